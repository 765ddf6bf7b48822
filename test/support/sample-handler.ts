// Entry of the fixture stack's NodejsFunction: never bundled or run, only has to exist.
export const handler = async (event: unknown): Promise<unknown> => event;
