/** State names as the console shows them; the local runner binds its handlers to Task states by these names. */
export const TaskStates = {
  fetchExecution: 'Fetch execution',
  findTask: 'Find task',
  claimTask: 'Claim task',
  runAutomation: 'Run automation?',
  startAutomation: 'Start automation',
  getAutomationStatus: 'Get automation status',
  automationFinished: 'Automation finished?',
  waitForAutomation: 'Wait for automation',
  cancelAutomation: 'Cancel automation',
  mapStatus: 'Map status',
  patchStep: 'Patch step',
  nothingToDo: 'Nothing to do',
  handedOver: 'Handed over to another execution',
  stepNotPatched: 'Step not patched',
} as const;

export const SweepStates = {
  detectTasks: 'Detect tasks',
  morePages: 'More pages?',
  sweepFinished: 'Sweep finished',
} as const;
