import { assertMaySteerId } from '../server/access/ownership.js';
import { Project as ProjectEntity, type Project as ProjectRow } from '../server/db/entities.js';
import { NotFoundError, ValidationError } from '../server/errors.js';
import { HydraConfigError, type HydraChoice, type HydraConfig, type HydraGroup, type HydraParameter } from '../server/projects/hydra/config.js';
import { METRIC_FILE_FORMATS, type ProjectSettings } from '../server/projects/settings.js';
import { builder } from './builder.js';

const EnvVar = builder.objectRef<{ name: string; value: string }>('EnvVar').implement({
  fields: (t) => ({ name: t.exposeString('name'), value: t.exposeString('value') }),
});

const MetricFileFormat = builder.enumType('MetricFileFormat', { values: METRIC_FILE_FORMATS });

const MetricFile = builder.objectRef<ProjectSettings['metrics'][number]>('MetricFile').implement({
  description: "A file the training writes metrics to, declared in .mlops-config.yaml's `metrics`.",
  fields: (t) => ({
    path: t.exposeString('path', { description: "A glob relative to the run's Hydra output directory." }),
    format: t.field({ type: MetricFileFormat, resolve: (file) => file.format }),
  }),
});

const Settings = builder.objectRef<ProjectSettings>('ProjectSettings').implement({
  description: "Launch settings from the project's .mlops-config.yaml (documented defaults when it has none).",
  fields: (t) => ({
    condaEnv: t.exposeString('conda_env', { nullable: true }),
    venv: t.exposeString('venv', { nullable: true }),
    trainScript: t.exposeString('train_script'),
    python: t.exposeString('python'),
    installEditable: t.exposeBoolean('install_editable'),
    packageName: t.exposeString('package_name', { nullable: true }),
    defaultOverrides: t.exposeStringList('default_overrides'),
    modules: t.exposeStringList('modules'),
    env: t.field({ type: [EnvVar], resolve: (settings) => Object.entries(settings.env).map(([name, value]) => ({ name, value })) }),
    setup: t.exposeStringList('setup'),
    // Projects stored before `metrics` existed have none until their settings are read again.
    metrics: t.field({ type: [MetricFile], resolve: (settings) => settings.metrics ?? [] }),
  }),
});

export const Project = builder.objectRef<ProjectRow>('Project').implement({
  description: 'A local git repository you launch jobs from.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    localPath: t.exposeString('localPath'),
    originUrl: t.exposeString('originUrl', { nullable: true }),
    cloneUrl: t.exposeString('cloneUrl', { nullable: true, description: 'What the cluster clones: the origin, in SSH form when it was HTTPS.' }),
    branch: t.exposeString('branch', { nullable: true, description: 'null when HEAD is detached.' }),
    headSha: t.exposeString('headSha'),
    headSubject: t.exposeString('headSubject'),
    dirty: t.exposeBoolean('dirty', { description: 'Tracked files have uncommitted changes (a launch runs HEAD without them).' }),
    pushed: t.exposeBoolean('pushed', { description: 'Some remote branch contains HEAD; the cluster cannot fetch an unpushed commit.' }),
    settings: t.field({ type: Settings, resolve: (project) => project.settings }),
    syncedAt: t.expose('syncedAt', { type: 'DateTime' }),
    deleted: t.boolean({ resolve: (project) => project.deletedAt !== null }),
  }),
});

// GraphQL cannot name an enum value null; the names are upper case, the values Hydra's own words.
const HydraValueType = builder.enumType('HydraValueType', {
  values: {
    BOOL: { value: 'bool' },
    INT: { value: 'int' },
    FLOAT: { value: 'float' },
    STRING: { value: 'string' },
    LIST: { value: 'list' },
    DICT: { value: 'dict' },
    NULL: { value: 'null' },
  } as const,
});

const Group = builder.objectRef<HydraGroup>('HydraGroup').implement({
  fields: (t) => ({
    path: t.exposeString('path', { description: 'e.g. "model" or the nested "model/encoder".' }),
    options: t.exposeStringList('options'),
    default: t.stringList({
      description: "The primary's choice: one option, several for a list-valued default, none when off.",
      resolve: (group) => (group.default === null ? [] : Array.isArray(group.default) ? group.default : [group.default]),
    }),
    optional: t.exposeBoolean('optional', { description: 'May be left off (`optional group: x` or `group: null`).' }),
    required: t.exposeBoolean('required', { description: '`group: ???`: an option must be chosen before a launch.' }),
    listValued: t.exposeBoolean('listValued', { description: 'The defaults list picks a list of options (callbacks: [a, b]): choose several, sent as GroupChoiceInput.options.' }),
    package: t.exposeString('package', { nullable: true }),
    overrideKey: t.exposeString('overrideKey', {
      description: 'What identifies this use of the group: its path, or "path@package" for a group used at a package of its own (db@source); GroupChoiceInput.group takes either.',
    }),
  }),
});

const Parameter = builder.objectRef<HydraParameter>('HydraParameter').implement({
  fields: (t) => ({
    path: t.exposeString('path', { description: 'Dotted key in the composed config, e.g. "optimizer.lr".' }),
    type: t.field({ type: HydraValueType, resolve: (parameter) => parameter.type }),
    default: t.field({ type: 'JSON', nullable: true, resolve: (parameter) => parameter.default }),
    readOnly: t.exposeBoolean('readOnly', { description: 'An interpolation (${…}) or a _target_ itself: shown, not edited.' }),
    required: t.exposeBoolean('required', { description: 'The value is `???` (missing): a launch must set it.' }),
    source: t.exposeString('source', { description: 'The config file that set this value.' }),
  }),
});

export const GroupChoiceInput = builder.inputType('GroupChoiceInput', {
  fields: (t) => ({
    group: t.string({ required: true, description: 'The group path ("model"), or its overrideKey ("db@source") for a group used more than once.' }),
    option: t.string({ description: 'One option ("vit", "lm/s4" for an option in a sub-folder); null with options null turns an optional group off.' }),
    options: t.stringList({ description: 'Several options, for a group whose default is a list (callbacks); replaces option.' }),
  }),
});

/** GraphQL input → the service's HydraChoice. */
export function toHydraChoice(choice: typeof GroupChoiceInput.$inferInput): HydraChoice {
  return { group: choice.group, option: choice.option ?? null, ...(choice.options ? { options: choice.options } : {}) };
}

const Hydra = builder.objectRef<HydraConfig>('HydraConfig').implement({
  description: "What a launch form needs from the project's Hydra config directory.",
  fields: (t) => ({
    configDir: t.exposeString('configDir', { description: 'Relative to the repository; "" when the configs sit at its root.' }),
    searchPath: t.exposeStringList('searchPath', { description: 'Directories hydra.searchpath adds after configDir, relative to the repository.' }),
    primaries: t.exposeStringList('primaries', { description: 'Every top-level config (train, eval, config…).' }),
    primary: t.exposeString('primary'),
    groups: t.field({ type: [Group], resolve: (hydra) => hydra.groups }),
    parameters: t.field({ type: [Parameter], resolve: (hydra) => hydra.parameters }),
    hasExperimentSuffix: t.exposeBoolean('hasExperimentSuffix', { description: 'The job description fills experiment_suffix.' }),
  }),
});

builder.queryFields((t) => ({
  projects: t.field({ type: [Project], resolve: (_root, _args, ctx) => ctx.services.projects.list(ctx.em) }),
  project: t.field({
    type: Project,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.projects.get(ctx.em, args.id),
  }),
  hydraConfig: t.field({
    type: Hydra,
    errors: { types: [NotFoundError, HydraConfigError, ValidationError] },
    description: 'The launch form of a project, composed as Hydra would with these group choices (the defaults when none).',
    args: { projectId: t.arg.int({ required: true }), primary: t.arg.string(), groups: t.arg({ type: [GroupChoiceInput], defaultValue: [] }) },
    resolve: (_root, args, ctx) => ctx.services.projects.hydraConfig(ctx.em, args.projectId, args.primary ?? undefined, (args.groups ?? []).map(toHydraChoice)),
  }),
}));

builder.mutationFields((t) => ({
  addProject: t.field({
    type: Project,
    description: 'Reads a local git repository (and its .mlops-config.yaml) and adds it, or refreshes it if known.',
    errors: { types: [ValidationError] },
    args: { localPath: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.projects.add(ctx.em, args.localPath, ctx.session.userId),
  }),
  syncProject: t.field({
    type: Project,
    description: 'Reads the repository again: branch, HEAD, dirty and pushed state, settings.',
    errors: { types: [NotFoundError, ValidationError] },
    args: { id: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.projects.sync(ctx.em, args.id),
  }),
  deleteProject: t.field({
    type: Project,
    description: 'Removes the project from the list; its jobs stay in history, archived.',
    errors: { types: [NotFoundError, ValidationError] },
    args: { id: t.arg.int({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, ProjectEntity, args.id, 'id');
      return ctx.services.projects.remove(ctx.em, args.id);
    },
  }),
}));
