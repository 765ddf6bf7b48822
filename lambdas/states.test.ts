import * as fs from 'node:fs';
import * as path from 'node:path';
import { ALL_FUNCTIONS } from './states';

const LAMBDAS = __dirname;
const stateFolders = fs
  .readdirSync(LAMBDAS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'shared')
  .map((entry) => entry.name);

describe('the registry of functions', () => {
  it('lists every folder under lambdas/ except shared/, each once', () => {
    expect(ALL_FUNCTIONS.map((definition) => definition.folder).sort()).toEqual(stateFolders.sort());
  });

  it('gives every function a distinct construct id and every Task state a distinct name', () => {
    const names = ALL_FUNCTIONS.flatMap((definition) => definition.stateName ?? []);
    expect(new Set(ALL_FUNCTIONS.map((definition) => definition.id)).size).toBe(ALL_FUNCTIONS.length);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(stateFolders)('has lambdas/%s/handler.ts export only lambdaHandler over its own state.ts', (folder) => {
    const source = fs.readFileSync(path.join(LAMBDAS, folder, 'handler.ts'), 'utf8');
    const statements = source
      .split(';')
      .map((part) => part.trim())
      .filter(Boolean);

    expect(statements).toEqual([
      "import { lambdaHandler } from '../shared/runtime/lambda-handler'",
      expect.stringMatching(/^import \{ \w+ \} from '\.\/state'$/),
      expect.stringMatching(/^export const handler = lambdaHandler\(\w+\)$/),
    ]);
  });

  it.each(stateFolders)('keeps the code of lambdas/%s free of imports outside its folder and shared/', (folder) => {
    const sources = fs
      .readdirSync(path.join(LAMBDAS, folder))
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
      .map((file) => fs.readFileSync(path.join(LAMBDAS, folder, file), 'utf8'));
    const imports = sources.flatMap((source) => [...source.matchAll(/from '(\.\.\/[^']+)'/g)].map((match) => match[1]));

    expect(imports.filter((specifier) => !specifier?.startsWith('../shared/'))).toEqual([]);
  });
});
