/**
 * The server extension's REST API (`{baseUrl}platform/...`) and the shapes it answers.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IPlatformConfig {
  mode: 'embedded' | 'remote';
  user: string;
  platform_url: string;
  poll_interval: number;
}

export interface IProject {
  id: string;
  owner: string;
  name: string;
  full_name: string;
  description: string;
  visibility: string;
}

export interface IStep {
  name: string;
  status: string;
  attempt: number;
  exit_code: number | null;
}

export interface IRun {
  project: string;
  number: number;
  trigger: string;
  ref: string;
  commit_sha: string;
  status: string;
  triggered_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  steps: IStep[];
}

export interface IMergeRequest {
  number: number;
  title: string;
  source_branch: string;
  target_branch: string;
  author: string;
  state: string;
}

export interface IAlertEvent {
  id: string;
  rule: string;
  severity: string;
  state: string;
  value: number | null;
  fired_at: string | null;
}

export interface ISessions {
  items: Array<{ id: string; status: string; title?: string }>;
  available: boolean;
  message?: string;
}

export interface IStepLog extends IStep {
  log: string;
}

export interface IRunLogs {
  run: IRun;
  steps: IStepLog[];
  done: boolean;
}

interface IItems<T> {
  items: T[];
}

/** An error answer of the platform: its HTTP status and message. */
export class PlatformAPIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** GET `platform/{path}` as JSON; throws {@link PlatformAPIError} on an error status. */
export async function requestAPI<T>(path: string): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'platform', path);
  const response = await ServerConnection.makeRequest(url, {}, settings);
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body?.error?.message ?? body?.message ?? response.statusText;
    throw new PlatformAPIError(response.status, message);
  }
  return body as T;
}

/** The URL path of one project: `projects/{owner}/{name}`. */
export function projectPath(project: string): string {
  const [owner, name] = project.split('/', 2);
  return `projects/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

export const api = {
  config: () => requestAPI<IPlatformConfig>('config'),
  projects: async () => (await requestAPI<IItems<IProject>>('projects?limit=100')).items,
  runs: async (project: string) =>
    (await requestAPI<IItems<IRun>>(`${projectPath(project)}/runs?limit=10`)).items,
  mergeRequests: async (project: string) =>
    (await requestAPI<IItems<IMergeRequest>>(`${projectPath(project)}/merge-requests?limit=10`))
      .items,
  alerts: async (project: string) =>
    (await requestAPI<IItems<IAlertEvent>>(`${projectPath(project)}/alerts?limit=10`)).items,
  sessions: (project: string) =>
    requestAPI<ISessions>(`${projectPath(project)}/sessions?limit=10`),
  runLogs: (project: string, number: number) =>
    requestAPI<IRunLogs>(`${projectPath(project)}/runs/${number}/logs`)
};

/** Python that fetches an object with the SDK (for "insert SDK snippet"). */
export const snippets = {
  project: (project: string) => `project = p.projects.get(${JSON.stringify(project)})`,
  run: (project: string, number: number) =>
    `run = p.projects.get(${JSON.stringify(project)}).pipelines.get(${number})`,
  mergeRequest: (project: string, number: number) =>
    `mr = p.projects.get(${JSON.stringify(project)}).merge_requests.get(${number})`,
  alerts: (project: string) =>
    `alerts = list(p.observe.alerts.events.list(project=${JSON.stringify(project)}, state="firing"))`
};
