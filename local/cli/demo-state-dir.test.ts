import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEMO_MARKER, prepareDemoStateDir } from './demo-state-dir';
import { UsageError } from './options';

describe('prepareDemoStateDir', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-state-dir-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('without a folder named makes a marked temporary one and removes it on dispose', () => {
    const prepared = prepareDemoStateDir(undefined);

    expect(fs.readdirSync(prepared.dir)).toEqual([DEMO_MARKER]);
    prepared.dispose();
    expect(fs.existsSync(prepared.dir)).toBe(false);
  });

  it('creates and marks a folder that does not exist yet, and keeps it on dispose', () => {
    const dir = path.join(root, 'new', 'state');

    prepareDemoStateDir(dir).dispose();

    expect(fs.readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('empties a folder it marked earlier', () => {
    const dir = path.join(root, 'state');
    prepareDemoStateDir(dir);
    fs.writeFileSync(path.join(dir, 'CURRENT'), 'old records');

    prepareDemoStateDir(dir);

    expect(fs.readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('refuses a folder with files but no marker, naming --state-dir, and deletes nothing', () => {
    fs.writeFileSync(path.join(root, 'precious.txt'), 'keep me');

    expect(() => prepareDemoStateDir(root)).toThrow(UsageError);
    expect(() => prepareDemoStateDir(root)).toThrow(/^--state-dir .*: name a new or empty folder/);
    expect(fs.readdirSync(root)).toEqual(['precious.txt']);
  });
});
