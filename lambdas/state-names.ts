import { SWEEP_FUNCTIONS, TASK_FUNCTIONS } from './states';

const stateName = (definition: { stateName: string | undefined; id: string }): string => {
  if (definition.stateName === undefined) throw new Error(`${definition.id} backs no state`);
  return definition.stateName;
};

/**
 * State names as the console shows them. A Lambda state's name comes from its registry entry; the others (choices,
 * waits, ends) exist only in the state machine.
 */
export const TaskStates = {
  fetchExecution: stateName(TASK_FUNCTIONS.fetchExecution),
  findTask: stateName(TASK_FUNCTIONS.findTask),
  claimTask: stateName(TASK_FUNCTIONS.claimTask),
  runAutomation: 'Run automation?',
  startAutomation: stateName(TASK_FUNCTIONS.startAutomation),
  getAutomationStatus: stateName(TASK_FUNCTIONS.getAutomationStatus),
  automationFinished: 'Automation finished?',
  waitForAutomation: 'Wait for automation',
  cancelAutomation: stateName(TASK_FUNCTIONS.cancelAutomation),
  patchStep: stateName(TASK_FUNCTIONS.patchStep),
  nothingToDo: 'Nothing to do',
  handedOver: 'Handed over to another execution',
  stepNotPatched: 'Step not patched',
} as const;

export const SweepStates = {
  detectTasks: stateName(SWEEP_FUNCTIONS.detectTasks),
  morePages: 'More pages?',
  sweepFinished: 'Sweep finished',
} as const;
