// One Hydra config file as the composition reads it: its content, `# @package` header and defaults list, parsed as
// OmegaConf reads YAML, confined and bounded by ../files.ts and cached by path and inode.
import { LRUCache } from 'lru-cache';
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node as YamlNode, type Tags } from 'yaml';
import { AppError } from '../../errors.js';
import { loadProjectFile, parseProjectYaml } from '../files.js';
import type { ExternalChoice } from './defaults-list.js';

export class HydraConfigError extends AppError {
  constructor(
    /** Relative to the repository ("conf/model/resnet.yaml"); empty when no file is to blame. */
    readonly file: string,
    /** 1-based. */
    readonly line: number | null,
    message: string,
  ) {
    super(file ? `${file}${line === null ? '' : `:${line}`}: ${message}` : message);
  }
}

/** `relative` inside directory `dir` of the repository ("" is the repository itself). */
export function under(dir: string, relative: string): string {
  return dir === '' ? relative : `${dir}/${relative}`;
}


export type DefaultEntry =
  | { kind: 'self'; line: number }
  | { kind: 'config'; path: string; package: string | null; line: number }
  | { kind: 'group'; group: string; package: string | null; value: string | string[] | null; optional: boolean; override: boolean; line: number; external?: ExternalChoice };

export type GroupEntry = Extract<DefaultEntry, { kind: 'group' }>;

export interface LoadedConfig {
  /** Relative to the repository, for errors. */
  file: string;
  /** Length of its text, counted against COMPOSITION_LIMITS.bytes. */
  bytes: number;
  /** Relative to the config dir, for HydraParameter.source. */
  source: string;
  header: string | null;
  content: Record<string, unknown>;
  defaults: DefaultEntry[];
}

// OmegaConf reads YAML with PyYAML's SafeLoader (YAML 1.1) minus timestamps; yaml's 1.1 schema also takes y/n as
// booleans, which PyYAML does not (so `x:`/`y:` keys stay strings).
function pyyamlTags(tags: Tags): Tags {
  return tags
    .filter((tag) => !(typeof tag === 'object' && 'tag' in tag && tag.tag === 'tag:yaml.org,2002:timestamp'))
    .map((tag) => {
      if (typeof tag !== 'object' || !('tag' in tag) || tag.tag !== 'tag:yaml.org,2002:bool' || !('test' in tag) || !tag.test) return tag;
      const isTrue = tag.test.test('true');
      return { ...tag, test: isTrue ? /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/ : /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/ };
    });
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

// Hydra's _get_header_dict: `# @key value` lines before anything else; the first other line ends the header.
function packageHeader(text: string, file: string): string | null {
  let header: string | null = null;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '') continue;
    if (!/^#\s*@/.test(line)) break;
    const parts = line.replace(/^#+/, '').trim().split(' ').filter((part) => part !== '');
    if (parts.length !== 2) throw new HydraConfigError(file, index + 1, `expected a header like "# @package foo.bar", got "${line}"`);
    if (parts[0] === '@package') header = parts[1]!;
  }
  return header;
}

function lineOf(node: YamlNode | null | undefined, lines: LineCounter): number {
  return node?.range ? lines.linePos(node.range[0]).line : 1;
}

function parseDefaults(document: Document, lines: LineCounter, file: string): DefaultEntry[] {
  const root = document.contents;
  if (!isMap(root)) return [];
  const pair = root.items.find((item) => isScalar(item.key) && item.key.value === 'defaults');
  if (!pair) return [];
  const list = pair.value as YamlNode | null;
  if (list === null || (isScalar(list) && list.value === null)) return [];
  if (!isSeq(list)) throw new HydraConfigError(file, lineOf(list, lines), 'defaults must be a list');
  return list.items.map((item): DefaultEntry => {
    const node = item as YamlNode;
    const line = lineOf(node, lines);
    if (isScalar(node) && typeof node.value === 'string') {
      if (node.value === '_self_') return { kind: 'self', line };
      const [path, pkg] = splitPackage(node.value);
      return { kind: 'config', path: withoutExtension(path), package: pkg, line };
    }
    if (isMap(node) && node.items.length === 1) {
      const entry = node.items[0]!;
      const key = isScalar(entry.key) ? String(entry.key.value) : '';
      const words = key.split(' ').filter((word) => word !== '');
      const target = words.pop() ?? '';
      let optional = false;
      let override = false;
      for (const word of words) {
        if (word === 'optional') optional = true;
        else if (word === 'override') override = true;
        else throw new HydraConfigError(file, line, `unknown keyword "${word}" in defaults entry "${key}" (only optional and override)`);
      }
      const [group, pkg] = splitPackage(target);
      if (group === '' || group === '/') throw new HydraConfigError(file, line, `defaults entry "${key}" names no config group`);
      const valueNode = entry.value as YamlNode | null;
      let value: string | string[] | null;
      if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) value = null;
      else if (isScalar(valueNode)) value = withoutExtension(String(valueNode.value));
      else if (isSeq(valueNode) && valueNode.items.every((option) => isScalar(option) && option.value !== null)) {
        value = valueNode.items.map((option) => withoutExtension(String((option as { value: unknown }).value)));
      } else throw new HydraConfigError(file, line, `defaults entry "${key}" must name an option, a list of options or null`);
      if (value === '_self_') return { kind: 'self', line };
      return { kind: 'group', group, package: pkg, value, optional, override, line };
    }
    throw new HydraConfigError(file, line, 'a defaults entry is `_self_`, a config name, or one `group: option` pair');
  });
}

// Hydra appends `.yaml` only to a name without it (ConfigSource._normalize_file_name), so `extras: default.yaml` loads
// extras/default.yaml; the form knows options by their names without the extension.
export function withoutExtension(name: string): string {
  return name.endsWith('.yaml') ? name.slice(0, -'.yaml'.length) : name;
}

export function splitPackage(text: string): [string, string | null] {
  const at = text.indexOf('@');
  return at === -1 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
}

export function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

// Parsed files by (path, real path, inode, mtime, size), errors included: the launch form and the script preview read
// the same files at every keystroke. Weighed by text length; the parsed form is several times that.
const parsedConfigs = new LRUCache<string, { value: LoadedConfig } | { error: AppError }>({ maxSize: 16 * 1024 * 1024 });

export async function loadConfig(root: string, configDir: string, configPath: string): Promise<LoadedConfig | null> {
  const source = `${configPath}.yaml`;
  const file = under(configDir, source);
  return loadProjectFile(root, file, { cache: parsedConfigs, parse: (text) => parseConfig(text, file, source) });
}

function parseConfig(text: string, file: string, source: string): LoadedConfig {
  const { document, lines } = parseProjectYaml(text, file, { version: '1.1', customTags: pyyamlTags, intAsBigInt: true, merge: true });
  const yamlError = document.errors[0];
  if (yamlError) throw new HydraConfigError(file, yamlError.linePos?.[0].line ?? null, `invalid YAML: ${firstLine(yamlError.message)}`);
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    throw new HydraConfigError(file, null, `invalid YAML: ${firstLine((error as Error).message)}`);
  }
  if (value !== null && value !== undefined && !plainObject(value)) {
    throw new HydraConfigError(file, lineOf(document.contents, lines), 'a config must be a mapping of keys to values');
  }
  const content: Record<string, unknown> = { ...((value ?? {}) as Record<string, unknown>) };
  delete content.defaults;
  return { file, bytes: text.length, source, header: packageHeader(text, file), content, defaults: parseDefaults(document, lines, file) };
}
