// The one way to read a file or list a directory of a project's repository (Hydra configs, `.mlops-config.yaml`),
// and to parse its YAML. A repository comes from anyone, and a read-only token can make the server read it, so every
// path resolves (symlinks followed) inside the repository's own real path, only regular files are read, never more
// than a limit, and a YAML document is measured before it is turned into values. Each refusal is a ProjectFileError
// naming the file relative to the repository and the limit.
import { constants } from 'node:fs';
import { open, opendir, realpath, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { LRUCache } from 'lru-cache';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, YAMLParseError, type Document, type DocumentOptions, type Node as YamlNode, type ParseOptions, type SchemaOptions } from 'yaml';
import { AppError, ProjectFileError } from '../errors.js';

export const PROJECT_FILE_LIMITS = {
  /**
   * Bytes of one config file. The largest file of lightning-hydra-template and of Hydra's own example apps is under
   * 2 kB and real configs are a few kB; 256 KiB is over a hundred times that, and the yaml library still parses it in
   * about a quarter of a second (off the event loop).
   */
  fileBytes: 256 * 1024,
  /** Keys, values and list items of one file, with every alias counted as the copy it becomes (billion laughs). */
  nodes: 10_000,
  /** Nesting of mappings and lists in one file; Hydra configs rarely pass 8. */
  depth: 64,
  /** Entries read from one directory of the config tree. */
  directoryEntries: 10_000,
  /** Directories walked below a config directory. */
  directories: 1_000,
} as const;

const formatted = (count: number) => count.toLocaleString('en-US');

/** The repository's real path: what every file must resolve inside. */
export function projectRoot(repoPath: string): Promise<string> {
  return realpath(repoPath);
}

function hasParentSegment(path: string): boolean {
  return path.split(/[\\/]/).includes('..');
}

/** The real path of `relative` when it exists; null when it (or a directory on its way) does not. */
async function resolveInside(root: string, relative: string): Promise<string | null> {
  if (hasParentSegment(relative)) throw new ProjectFileError(relative, null, '".." in the path would leave the repository; refused');
  let real: string;
  try {
    real = await realpath(join(root, relative));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new ProjectFileError(relative, null, `cannot read: ${code ?? (error as Error).message}`);
  }
  // The target is not named: it is a path on the server, not the repository's to know.
  if (real !== root && !real.startsWith(root + sep)) throw new ProjectFileError(relative, null, 'is a symbolic link (or inside a linked directory) that leads outside the repository; refused');
  return real;
}

function describeKind(stats: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

export interface ProjectFileOptions<T> {
  maxBytes?: number;
  /**
   * Turns the text into what the caller keeps. With `cache`, its result, or the typed error it threw, is kept by
   * (path, real path, inode, mtime, size), so an unchanged file is parsed once.
   */
  parse: (text: string) => T;
  cache?: LRUCache<string, { value: T } | { error: AppError }>;
}

/**
 * Reads and parses `relative` (a path inside the repository at `root`, which projectRoot gave); null when it does not
 * exist. At most `maxBytes` + 1 bytes are ever read, a named pipe never blocks the read, and an unchanged file is
 * parsed once.
 */
export async function loadProjectFile<T>(root: string, relative: string, options: ProjectFileOptions<T>): Promise<T | null> {
  const maxBytes = options.maxBytes ?? PROJECT_FILE_LIMITS.fileBytes;
  const real = await resolveInside(root, relative);
  if (real === null) return null;
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer. O_NOFOLLOW: the path was just resolved.
    handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ProjectFileError(relative, null, `cannot read: ${code ?? (error as Error).message}`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new ProjectFileError(relative, null, `is ${describeKind(stats)}, not a regular file; refused`);
    const tooBig = () => new ProjectFileError(relative, null, `is larger than the limit of ${formatted(maxBytes)} bytes (${maxBytes / 1024} KiB) for a file read from a project; refused`);
    if (stats.size > maxBytes) throw tooBig();
    const key = `${relative}\0${real}\0${stats.dev}:${stats.ino}:${stats.mtimeMs}:${stats.size}`;
    const cached = options.cache?.get(key);
    if (cached && 'error' in cached) throw cached.error;
    if (cached) return cached.value;
    // The size can change after fstat: read one byte past the limit to see whether it was passed.
    const buffer = Buffer.alloc(Math.min(maxBytes, stats.size) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) throw tooBig();
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    let value: T;
    try {
      value = options.parse(buffer.toString('utf8', 0, length));
    } catch (error) {
      if (error instanceof AppError) options.cache?.set(key, { error }, { size: length + 1 });
      throw error;
    }
    options.cache?.set(key, { value }, { size: length + 1 });
    return value;
  } finally {
    await handle.close();
  }
}

export interface ProjectDirectoryEntry {
  name: string;
  /** As the directory says: a symbolic link is neither a file nor a directory here, and is never followed. */
  kind: 'file' | 'directory' | 'other';
}

/** The entries of directory `relative` of the repository; null when it does not exist or is not a directory. */
export async function listProjectDirectory(root: string, relative: string): Promise<ProjectDirectoryEntry[] | null> {
  const real = await resolveInside(root, relative);
  if (real === null) return null;
  let directory;
  try {
    directory = await opendir(real);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new ProjectFileError(relative, null, `cannot read: ${code ?? (error as Error).message}`);
  }
  const entries: ProjectDirectoryEntry[] = [];
  try {
    for await (const entry of directory) {
      if (entries.length === PROJECT_FILE_LIMITS.directoryEntries) {
        throw new ProjectFileError(relative, null, `has more than ${formatted(PROJECT_FILE_LIMITS.directoryEntries)} entries, the limit for a directory of a project's config; refused`);
      }
      entries.push({ name: entry.name, kind: entry.isFile() ? 'file' : entry.isDirectory() ? 'directory' : 'other' });
    }
  } finally {
    // Leaving the loop early (the limit) closes the directory already; closing twice throws ERR_DIR_CLOSED.
    await directory.close().catch(() => undefined);
  }
  return entries;
}

/** Whether `relative` is a directory inside the repository (a link to one outside is refused, not followed). */
export async function isProjectDirectory(root: string, relative: string): Promise<boolean> {
  return (await listProjectDirectory(root, relative)) !== null;
}

export interface ParsedYaml {
  document: Document.Parsed;
  lines: LineCounter;
}

type YamlOptions = Omit<ParseOptions & DocumentOptions & SchemaOptions, 'uniqueKeys' | 'lineCounter' | 'prettyErrors'>;

/**
 * Parses one YAML document read from a project, and measures it before anything turns it into values: its size with
 * aliases expanded, its depth, and duplicate keys (which OmegaConf refuses; yaml's own check is quadratic in the
 * number of keys, so it is off and done here in one pass). Syntax errors stay in `document.errors` for the caller to
 * word (a duplicate key among them); a limit passed is a ProjectFileError naming `file`, its line and the limit.
 */
export function parseProjectYaml(text: string, file: string, options: YamlOptions = {}): ParsedYaml {
  const lines = new LineCounter();
  const document = parseDocument(text, { ...options, uniqueKeys: false, prettyErrors: true, lineCounter: lines });
  const lineAt = (offset: number) => lines.linePos(offset).line;
  const depthError = (line: number | null) => new ProjectFileError(file, line, `nests mappings and lists deeper than the limit of ${PROJECT_FILE_LIMITS.depth} levels; refused`);
  // yaml reports its own stack running out this way: only a nesting far past the limit gets there.
  const exhausted = document.errors.find((error) => error.code === 'RESOURCE_EXHAUSTION');
  if (exhausted) throw depthError(exhausted.linePos?.[0].line ?? null);
  if (document.errors.length > 0 || document.contents === null) return { document, lines };

  // One pass in document order (so an anchor is known before its aliases), with an explicit stack: the nesting is
  // what is being measured, so the walk must not recurse.
  const measured = new Map<YamlNode, { size: number; depth: number }>();
  const anchors = new Map<string, YamlNode>();
  const tooMany = (node: YamlNode) =>
    new ProjectFileError(file, node.range ? lineAt(node.range[0]) : null, `has more than ${formatted(PROJECT_FILE_LIMITS.nodes)} keys, values and list items (aliases counted as the copies they make), the limit for one file; refused`);
  const stack: Array<{ node: YamlNode; children: YamlNode[] | null }> = [{ node: document.contents, children: null }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const { node } = frame;
    if (frame.children === null) {
      if (node.anchor) anchors.set(node.anchor, node);
      frame.children = [];
      if (isMap(node) || isSeq(node)) {
        const seen = new Map<unknown, YamlNode>();
        for (const item of node.items as unknown[]) {
          if (isPair(item)) {
            const key = item.key as YamlNode | null;
            if (isMap(node) && isScalar(key) && !(typeof key.value === 'number' && Number.isNaN(key.value))) {
              const first = seen.get(key.value);
              if (first) {
                // Reported as yaml reports its own check (which it is instead of): a syntax error for the caller to word.
                const at = key.range?.[0] ?? 0;
                const error = new YAMLParseError([at, at + 1], 'DUPLICATE_KEY', `Map keys must be unique: "${String(key.value)}" is also on line ${first.range ? lineAt(first.range[0]) : '?'}`);
                error.linePos = [lines.linePos(at), lines.linePos(at + 1)];
                document.errors.push(error);
                return { document, lines };
              }
              seen.set(key.value, key);
            }
            if (key) frame.children.push(key);
            if (item.value) frame.children.push(item.value as YamlNode);
          } else if (item) frame.children.push(item as YamlNode);
        }
      }
      // Children go on the stack in reverse so that they are entered in document order.
      for (let index = frame.children.length - 1; index >= 0; index--) stack.push({ node: frame.children[index]!, children: null });
      continue;
    }
    stack.pop();
    let size = 1;
    let depth = 0;
    if (isAlias(node)) {
      const source = anchors.get(node.source);
      const target = source && measured.get(source);
      // An alias to a node that contains it would expand forever; an unknown one is yaml's error to report.
      if (source && !target) throw new ProjectFileError(file, node.range ? lineAt(node.range[0]) : null, `alias *${node.source} refers to a node that contains it; refused`);
      if (target) ({ size, depth } = target);
    } else {
      for (const child of frame.children) {
        const inner = measured.get(child)!;
        size += inner.size;
        depth = Math.max(depth, inner.depth + 1);
      }
    }
    if (size > PROJECT_FILE_LIMITS.nodes) throw tooMany(node);
    if (depth > PROJECT_FILE_LIMITS.depth) throw depthError(node.range ? lineAt(node.range[0]) : null);
    measured.set(node, { size, depth });
  }
  return { document, lines };
}
