/**
 * The left sidebar: the user's projects and, for the selected one, its recent pipeline runs
 * (polled while shown), open merge requests, agent sessions and firing alerts.
 */
import { Widget } from '@lumino/widgets';

import {
  api,
  IAlertEvent,
  IMergeRequest,
  IPlatformConfig,
  IProject,
  IRun,
  ISessions,
  PlatformAPIError,
  snippets
} from './api';
import { button, el, emptyState, statusBadge } from './dom';

export interface ISidebarActions {
  openLogs(project: string, run: number): void;
  openDashboard(project: string): void;
  insertSnippet(code: string): void;
}

export class PlatformSidebar extends Widget {
  constructor(private readonly actions: ISidebarActions) {
    super();
    this.id = 'platform-sidebar';
    this.addClass('jp-Platform-sidebar');
    this.title.caption = 'Platform';
    this.node.append(this.header, this.projectList, this.detail);
    this.header.append(
      el('h2', {}, 'Platform'),
      this.who,
      button('⟳', 'Refresh', () => void this.refreshAll())
    );
    void this.refreshAll();
  }

  /** The selected project's `owner/name`, if any. */
  get selected(): string | null {
    return this._selected;
  }

  async refreshAll(): Promise<void> {
    try {
      this.config = await api.config();
      this.who.textContent = `${this.config.user} · ${this.config.mode}`;
      this.startPolling(this.config.poll_interval);
    } catch (error) {
      this.who.textContent = describe(error);
    }
    await this.refreshProjects();
    await this.refreshDetail();
  }

  async refreshProjects(): Promise<void> {
    let projects: IProject[];
    try {
      projects = await api.projects();
    } catch (error) {
      this.projectList.replaceChildren(emptyState(describe(error)));
      return;
    }
    this.projectList.replaceChildren(
      ...(projects.length
        ? projects.map(p => this.projectItem(p))
        : [emptyState('No projects yet: create one with p.projects.create("name").')])
    );
  }

  select(project: string): void {
    this._selected = project;
    for (const item of Array.from(this.projectList.children)) {
      item.classList.toggle(
        'jp-mod-selected',
        (item as HTMLElement).dataset.project === project
      );
    }
    this.detail.replaceChildren(el('p', { class: 'jp-Platform-loading' }, 'Loading…'));
    void this.refreshDetail();
  }

  async refreshDetail(): Promise<void> {
    const project = this._selected;
    if (!project || this.busy) {
      return;
    }
    this.busy = true;
    try {
      const [runs, mrs, sessions, alerts] = await Promise.all([
        settle(api.runs(project)),
        settle(api.mergeRequests(project)),
        settle(api.sessions(project)),
        settle(api.alerts(project))
      ]);
      if (project !== this._selected) {
        return;
      }
      this.detail.replaceChildren(
        this.projectHeader(project),
        section('Pipeline runs', 'jp-Platform-runs', runs, r => this.runItems(project, r)),
        section('Merge requests', 'jp-Platform-mrs', mrs, m => this.mrItems(project, m)),
        section('Agent sessions', 'jp-Platform-sessions', sessions, s => sessionItems(s)),
        section('Firing alerts', 'jp-Platform-alerts', alerts, a => alertItems(a))
      );
    } finally {
      this.busy = false;
    }
  }

  protected onBeforeDetach(): void {
    this.stopPolling();
  }

  protected onAfterAttach(): void {
    if (this.config) {
      this.startPolling(this.config.poll_interval);
    }
  }

  dispose(): void {
    this.stopPolling();
    super.dispose();
  }

  private startPolling(seconds: number): void {
    this.stopPolling();
    this.timer = window.setInterval(() => {
      if (this.isVisible) {
        void this.refreshDetail();
      }
    }, Math.max(1, seconds) * 1000);
  }

  private stopPolling(): void {
    if (this.timer !== undefined) {
      window.clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private projectItem(p: IProject): HTMLElement {
    const item = el(
      'li',
      { class: 'jp-Platform-project', 'data-project': p.full_name, title: p.description },
      el('span', { class: 'jp-Platform-name' }, p.full_name),
      el('span', { class: 'jp-Platform-meta' }, p.visibility)
    );
    if (p.full_name === this._selected) {
      item.classList.add('jp-mod-selected');
    }
    item.addEventListener('click', () => this.select(p.full_name));
    return item;
  }

  private projectHeader(project: string): HTMLElement {
    return el(
      'div',
      { class: 'jp-Platform-projectHeader' },
      el('h3', {}, project),
      button('Dashboard', 'Open the pipelines dashboard in a tab', () =>
        this.actions.openDashboard(project)
      ),
      button('Snippet', 'Insert SDK code fetching this project into the notebook', () =>
        this.actions.insertSnippet(snippets.project(project))
      )
    );
  }

  private runItems(project: string, runs: IRun[]): HTMLElement[] {
    if (!runs.length) {
      return [emptyState('No pipeline runs: push a .platform.yaml or trigger a run.')];
    }
    return runs.map(run => {
      const item = el(
        'li',
        {
          class: 'jp-Platform-run',
          'data-number': String(run.number),
          'data-status': run.status,
          title: 'Open this run’s logs'
        },
        el('span', { class: 'jp-Platform-name' }, `#${run.number}`),
        statusBadge(run.status),
        el('span', { class: 'jp-Platform-meta' }, shortRef(run.ref)),
        button('Snippet', 'Insert SDK code fetching this run', () =>
          this.actions.insertSnippet(snippets.run(project, run.number))
        )
      );
      item.addEventListener('click', () => this.actions.openLogs(project, run.number));
      return item;
    });
  }

  private mrItems(project: string, mrs: IMergeRequest[]): HTMLElement[] {
    if (!mrs.length) {
      return [emptyState('No open merge requests.')];
    }
    return mrs.map(mr =>
      el(
        'li',
        { class: 'jp-Platform-mr', 'data-number': String(mr.number) },
        el('span', { class: 'jp-Platform-name' }, `!${mr.number} ${mr.title}`),
        el('span', { class: 'jp-Platform-meta' }, `${mr.source_branch} → ${mr.target_branch}`),
        button('Snippet', 'Insert SDK code fetching this merge request', () =>
          this.actions.insertSnippet(snippets.mergeRequest(project, mr.number))
        )
      )
    );
  }

  private readonly header = el('div', { class: 'jp-Platform-header' });
  private readonly who = el('span', { class: 'jp-Platform-user' });
  private readonly projectList = el('ul', { class: 'jp-Platform-projects' });
  private readonly detail = el(
    'div',
    { class: 'jp-Platform-detail' },
    el('p', { class: 'jp-Platform-hint' }, 'Select a project to see its runs.')
  );
  private config: IPlatformConfig | null = null;
  private _selected: string | null = null;
  private busy = false;
  private timer: number | undefined = undefined;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

function section<T>(
  title: string,
  className: string,
  result: Settled<T>,
  render: (value: T) => HTMLElement[]
): HTMLElement {
  const items = result.ok ? render(result.value) : [emptyState(describe(result.error))];
  return el(
    'section',
    { class: `jp-Platform-section ${className}` },
    el('h4', {}, title),
    el('ul', {}, ...items)
  );
}

function sessionItems(sessions: ISessions): HTMLElement[] {
  if (!sessions.items.length) {
    return [
      emptyState(sessions.available ? 'No recent agent sessions.' : sessions.message ?? '')
    ];
  }
  return sessions.items.map(s =>
    el(
      'li',
      { class: 'jp-Platform-session' },
      el('span', { class: 'jp-Platform-name' }, s.title ?? s.id),
      statusBadge(s.status)
    )
  );
}

function alertItems(alerts: IAlertEvent[]): HTMLElement[] {
  if (!alerts.length) {
    return [emptyState('No firing alerts.')];
  }
  return alerts.map(a =>
    el(
      'li',
      { class: `jp-Platform-alert jp-Platform-severity-${a.severity}` },
      el('span', { class: 'jp-Platform-name' }, a.rule),
      el('span', { class: 'jp-Platform-meta' }, `${a.severity} · value ${a.value ?? '–'}`)
    )
  );
}

function shortRef(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, '');
}

export function describe(error: unknown): string {
  if (error instanceof PlatformAPIError) {
    return error.status === 404 ? 'Not found (or not visible to you).' : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
