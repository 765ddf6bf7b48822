/**
 * The subset of Lucene query syntax the simulator understands:
 *   `*` / `*:*`, `field:value`, `field:"quoted value"`, `field:*`, `_exists_:field`,
 *   AND, OR, NOT, parentheses (AND binds tighter than OR).
 * Field paths are dotted; each segment walks into objects and, implicitly, arrays (as Elasticsearch flattens
 * arrays of objects); a `*` segment matches any key (`workflows.*.task_execution_type:AUTOMATION`).
 * Anything else is refused with a message that names it, so a runner never silently relies on syntax that
 * only happens to "work" here.
 */

export type LuceneQuery =
  | { kind: 'all' }
  | { kind: 'term'; path: string[]; value: string }
  | { kind: 'exists'; path: string[] }
  | { kind: 'and' | 'or'; clauses: LuceneQuery[] }
  | { kind: 'not'; clause: LuceneQuery };

export class LuceneSyntaxError extends Error {
  override readonly name = 'LuceneSyntaxError';
}

type Token = { kind: 'and' | 'or' | 'not' | '(' | ')' } | { kind: 'term'; text: string };

export function parseLucene(q: string): LuceneQuery {
  const tokens = tokenize(q);
  if (tokens.length === 0) throw new LuceneSyntaxError('empty query; use * to match everything');
  let position = 0;
  const peek = (): Token | undefined => tokens[position];

  const parseOr = (): LuceneQuery => {
    const clauses = [parseAnd()];
    while (peek()?.kind === 'or') {
      position++;
      clauses.push(parseAnd());
    }
    return clauses.length === 1 && clauses[0] ? clauses[0] : { kind: 'or', clauses };
  };
  const parseAnd = (): LuceneQuery => {
    const clauses = [parseUnary()];
    while (peek()?.kind === 'and') {
      position++;
      clauses.push(parseUnary());
    }
    return clauses.length === 1 && clauses[0] ? clauses[0] : { kind: 'and', clauses };
  };
  const parseUnary = (): LuceneQuery => {
    const token = tokens[position++];
    if (!token) throw new LuceneSyntaxError('query ends where a term was expected');
    switch (token.kind) {
      case 'not':
        return { kind: 'not', clause: parseUnary() };
      case '(': {
        const inner = parseOr();
        if (tokens[position++]?.kind !== ')') throw new LuceneSyntaxError('missing closing parenthesis');
        return inner;
      }
      case 'term':
        return parseTerm(token.text);
      default:
        throw new LuceneSyntaxError(`unexpected ${token.kind.toUpperCase()} where a term was expected`);
    }
  };

  const query = parseOr();
  const rest = tokens[position];
  if (rest) {
    const shown = rest.kind === 'term' ? rest.text : rest.kind;
    throw new LuceneSyntaxError(`implicit operator before '${shown}' is not supported; join terms with AND or OR`);
  }
  return query;
}

function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ kind: c });
      i++;
      continue;
    }
    if (q.startsWith('&&', i) || q.startsWith('||', i))
      throw new LuceneSyntaxError(`operator '${q.slice(i, i + 2)}' is not supported; use AND / OR`);
    let text = '';
    let inQuotes = false;
    while (i < q.length) {
      const ch = q.charAt(i);
      if (!inQuotes && (/\s/.test(ch) || ch === '(' || ch === ')')) break;
      if (ch === '\\' && i + 1 < q.length) {
        text += ch + q.charAt(i + 1);
        i += 2;
        continue;
      }
      if (ch === '"') inQuotes = !inQuotes;
      text += ch;
      i++;
    }
    if (inQuotes) throw new LuceneSyntaxError(`unterminated quote in '${text}'`);
    if (text === 'AND' || text === 'OR' || text === 'NOT') tokens.push({ kind: text === 'AND' ? 'and' : text === 'OR' ? 'or' : 'not' });
    else tokens.push({ kind: 'term', text });
  }
  return tokens;
}

function parseTerm(text: string): LuceneQuery {
  if (text === '*' || text === '*:*') return { kind: 'all' };
  const first = text.charAt(0);
  if (first === '+' || first === '-' || first === '!')
    throw new LuceneSyntaxError(`prefix operator '${first}' in '${text}' is not supported; use NOT`);
  const colon = indexOfUnescaped(text, ':');
  if (colon <= 0) throw new LuceneSyntaxError(`free-text term '${text}' is not supported; use field:value`);
  const field = text.slice(0, colon);
  const rawValue = text.slice(colon + 1);
  if (rawValue === '') throw new LuceneSyntaxError(`missing value in '${text}'`);
  if (field === '_exists_') return { kind: 'exists', path: parsePath(unescape(rawValue), text) };
  const path = parsePath(field, text);
  if (rawValue === '*') return { kind: 'exists', path };
  if (rawValue.startsWith('"')) {
    if (rawValue.length < 2 || !rawValue.endsWith('"')) throw new LuceneSyntaxError(`malformed quoted value in '${text}'`);
    return { kind: 'term', path, value: unescape(rawValue.slice(1, -1)) };
  }
  const unsupported = findUnescaped(rawValue, ['*', '?', '~', '^', '[', ']', '{', '}', '/', '>', '<', ':', '"']);
  if (unsupported !== undefined) {
    const what: Record<string, string> = {
      '*': 'wildcard',
      '?': 'wildcard',
      '~': 'fuzzy/proximity',
      '^': 'boost',
      '[': 'range',
      ']': 'range',
      '{': 'range',
      '}': 'range',
      '/': 'regular expression',
      '>': 'comparison',
      '<': 'comparison',
      ':': 'nested field',
      '"': 'quote',
    };
    throw new LuceneSyntaxError(`${what[unsupported] ?? 'syntax'} '${unsupported}' in '${text}' is not supported`);
  }
  return { kind: 'term', path, value: unescape(rawValue) };
}

function parsePath(field: string, text: string): string[] {
  const path = field.split('.');
  if (path[0] === '*') throw new LuceneSyntaxError(`a field path cannot start with * in '${text}'`);
  for (const segment of path) {
    if (segment === '') throw new LuceneSyntaxError(`empty path segment in '${text}'`);
    if (segment !== '*' && /[*?]/.test(segment))
      throw new LuceneSyntaxError(`partial wildcard field '${segment}' in '${text}' is not supported (only a whole '*' segment)`);
  }
  return path;
}

function indexOfUnescaped(text: string, char: string): number {
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '\\') i++;
    else if (c === '"') inQuotes = !inQuotes;
    else if (c === char && !inQuotes) return i;
  }
  return -1;
}

function findUnescaped(text: string, chars: string[]): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '\\') i++;
    else if (chars.includes(c)) return c;
  }
  return undefined;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/**
 * Top-level fields every matching document must have. Lets a search skip, with one lookup, the many
 * documents that cannot match (e.g. the entities without workflows when the query is about workflows).
 */
export function requiredRoots(query: LuceneQuery): Set<string> {
  switch (query.kind) {
    case 'term':
    case 'exists':
      return new Set(query.path.slice(0, 1));
    case 'and':
      return new Set(query.clauses.flatMap((clause) => [...requiredRoots(clause)]));
    case 'or': {
      const [first, ...rest] = query.clauses.map(requiredRoots);
      return new Set([...(first ?? [])].filter((root) => rest.every((roots) => roots.has(root))));
    }
    default:
      return new Set();
  }
}

/** `resolveRoot` gives a document's top-level value; it lets callers compute fields (like `workflows`) lazily. */
export function matchesLucene(query: LuceneQuery, resolveRoot: (key: string) => unknown): boolean {
  switch (query.kind) {
    case 'all':
      return true;
    case 'and':
      return query.clauses.every((clause) => matchesLucene(clause, resolveRoot));
    case 'or':
      return query.clauses.some((clause) => matchesLucene(clause, resolveRoot));
    case 'not':
      return !matchesLucene(query.clause, resolveRoot);
    case 'exists':
      return collectLeaves(query.path, resolveRoot).some((leaf) => leaf !== null && leaf !== undefined);
    case 'term':
      return collectLeaves(query.path, resolveRoot).some((leaf) => leafEquals(leaf, query.value));
  }
}

function leafEquals(leaf: unknown, value: string): boolean {
  if (typeof leaf === 'string') return leaf === value;
  if (typeof leaf === 'number' || typeof leaf === 'boolean') return String(leaf) === value;
  return false;
}

function collectLeaves(path: readonly string[], resolveRoot: (key: string) => unknown): unknown[] {
  const [head, ...rest] = path;
  if (head === undefined) return [];
  let current: unknown[] = [resolveRoot(head)];
  for (const segment of rest) {
    const next: unknown[] = [];
    for (const value of flatten(current)) {
      if (typeof value !== 'object' || value === null) continue;
      const record = value as Record<string, unknown>;
      if (segment === '*') next.push(...Object.values(record));
      else if (Object.prototype.hasOwnProperty.call(record, segment)) next.push(record[segment]);
    }
    current = next;
    if (current.length === 0) return current;
  }
  return flatten(current);
}

function flatten(values: unknown[]): unknown[] {
  if (!values.some(Array.isArray)) return values;
  const out: unknown[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else out.push(value);
  };
  values.forEach(visit);
  return out;
}
