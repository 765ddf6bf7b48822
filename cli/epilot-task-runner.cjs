#!/usr/bin/env node
// The command runs the TypeScript sources directly (tsx), so `npx epilot-task-runner` works right after
// `npm install` without a build step.
require('tsx/cjs');
const { main, finish } = require('../local/cli/cli.ts');
main(process.argv).then(finish);
