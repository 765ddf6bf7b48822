import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { systemClock } from '../../lambdas/shared/clock';
import { runnerSettings } from '../../lambdas/shared/config/settings';
import { RecordConflictError } from '../../lambdas/shared/errors';
import { createLogger } from '../../lambdas/shared/logger';
import type { TaskRecordFields } from '../../lambdas/shared/records/task-records';
import { localOwnerIsGone, parseLocalOwner, registerLocalRunner } from './local-owner';
import { LocalRunner } from './local-runner';

afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

/** A pid no process has: above Linux's pid_max (4194304 at most) and macOS's 99999. */
const NO_SUCH_PID = 4_194_305;

describe('local record owners', () => {
  it('name this host, pid, process start and runner, and parse back to them', () => {
    const runner = registerLocalRunner();
    try {
      const owner = runner.owner('wf-1-task-1-1');

      expect(owner).toMatch(new RegExp(`^local:${encodeURIComponent(os.hostname())}:${process.pid}:\\d+:\\d+:wf-1-task-1-1$`));
      expect(parseLocalOwner(owner)).toEqual({
        host: os.hostname(),
        pid: process.pid,
        processStartedAt: Math.round(performance.timeOrigin),
        runner: expect.any(Number),
      });
    } finally {
      runner.end();
    }
  });

  it('count as gone once their runner has ended in this process, not before', () => {
    const runner = registerLocalRunner();
    const owner = runner.owner('wf-1-task-1-1');

    expect(localOwnerIsGone(owner)).toBe(false);
    runner.end();
    expect(localOwnerIsGone(owner)).toBe(true);
  });

  it('count as gone when their pid runs no process, or this pid belongs to a process started later', () => {
    const runner = registerLocalRunner();
    try {
      const [prefix, host, pid, startedAt, ...rest] = runner.owner('wf-1-task-1-1').split(':');
      const owner = (fields: { pid?: string; startedAt?: string }) =>
        [prefix, host, fields.pid ?? pid, fields.startedAt ?? startedAt, ...rest].join(':');

      expect(localOwnerIsGone(owner({ pid: String(NO_SUCH_PID) }))).toBe(true);
      // This pid, an hour before this process started: a process of the past that had the same pid.
      expect(localOwnerIsGone(owner({ startedAt: String(Number(startedAt) - 3_600_000) }))).toBe(true);
    } finally {
      runner.end();
    }
  });

  it('never count as gone on another host, nor for an owner that is no local runner (an execution ARN)', () => {
    const elsewhere = `local:${encodeURIComponent('some-other-host')}:${NO_SUCH_PID}:1700000000000:1:wf-1-task-1-1`;

    expect(localOwnerIsGone(elsewhere)).toBe(false);
    expect(localOwnerIsGone('arn:aws:states:eu-central-1:123456789012:execution:Task:wf-1-task-1-1')).toBe(false);
    expect(parseLocalOwner('arn:aws:states:eu-central-1:123456789012:execution:Task:wf-1-task-1-1')).toBeUndefined();
  });
});

describe('a local runner starting on a state dir with claims left behind', () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-owner-'));
  });
  afterEach(() => fs.rmSync(stateDir, { recursive: true, force: true }));

  const start = () =>
    LocalRunner.create({
      endpoints: { entity: 'http://127.0.0.1:9', workflow: 'http://127.0.0.1:9', automation: 'http://127.0.0.1:9' },
      token: 'unused',
      settings: runnerSettings(),
      clock: systemClock,
      logger: createLogger({ logLevel: 'SILENT' }),
      stateDir,
      concurrency: 1,
    });
  const record = (taskId: string, owner: string): TaskRecordFields => ({
    workflowExecutionId: 'wf-left',
    taskId,
    status: 'STARTED',
    owner,
    leaseUntil: Date.now() + 3_600_000,
    attempt: 1,
    round: 1,
    entityId: 'e-1',
    automationExecutionId: `run-${taskId}`,
    createdAt: Date.now(),
  });

  it("ends the lease of a record whose local process is gone, and keeps the leases of an ARN's and another host's", async () => {
    const goneOwner = `local:${encodeURIComponent(os.hostname())}:${NO_SUCH_PID}:1700000000000:1:wf-left-gone-1`;
    const arnOwner = 'arn:aws:states:eu-central-1:123456789012:execution:Task:wf-left-arn-1';
    const elsewhereOwner = `local:some-other-host:${NO_SUCH_PID}:1700000000000:1:wf-left-elsewhere-1`;
    const first = await start();
    await first.records.replace(undefined, record('gone', goneOwner));
    await first.records.replace(undefined, record('arn', arnOwner));
    await first.records.replace(undefined, record('elsewhere', elsewhereOwner));
    await first.stop();

    const second = await start();
    try {
      const read = (taskId: string) => second.records.get({ workflowExecutionId: 'wf-left', taskId });
      const startedAt = Date.now();

      expect(await read('gone')).toMatchObject({ status: 'STARTED', owner: goneOwner, automationExecutionId: 'run-gone', version: 2 });
      expect((await read('gone'))?.leaseUntil).toBeLessThan(startedAt);
      expect(await second.records.abandoned(startedAt, 10)).toEqual([expect.objectContaining({ taskId: 'gone' })]);
      expect((await read('arn'))?.leaseUntil).toBeGreaterThan(startedAt);
      expect((await read('elsewhere'))?.leaseUntil).toBeGreaterThan(startedAt);
    } finally {
      await second.stop();
    }
  });

  it('ends a lease only at the version read: a record written since is left alone (RecordConflictError)', async () => {
    const runner = await start();
    try {
      const read = await runner.records.replace(undefined, record('raced', 'arn:aws:states:eu-central-1:1:execution:Task:x'));
      const newer = await runner.records.replace(read, { ...read, attempt: 2 });

      await expect(runner.records.expireLease(read)).rejects.toThrow(RecordConflictError);
      expect(await runner.records.get({ workflowExecutionId: 'wf-left', taskId: 'raced' })).toEqual(newer);
    } finally {
      await runner.stop();
    }
  });
});
