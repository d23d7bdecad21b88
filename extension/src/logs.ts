/**
 * A main-area tab with a pipeline run's step logs, refreshed while the run is not finished.
 */
import { Widget } from '@lumino/widgets';

import { api, IRunLogs } from './api';
import { el, statusBadge } from './dom';
import { describe } from './sidebar';

export class RunLogsWidget extends Widget {
  constructor(
    readonly project: string,
    readonly number: number,
    private readonly interval: number
  ) {
    super();
    this.id = `platform-run-${project.replace('/', '-')}-${number}`;
    this.addClass('jp-Platform-logs');
    this.title.label = `${project} #${number}`;
    this.title.caption = `Logs of pipeline run #${number} of ${project}`;
    this.title.closable = true;
    this.node.append(this.heading, this.body);
    void this.refresh();
  }

  async refresh(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    let logs: IRunLogs;
    try {
      logs = await api.runLogs(this.project, this.number);
    } catch (error) {
      this.body.replaceChildren(el('p', { class: 'jp-Platform-empty' }, describe(error)));
      this.schedule();
      return;
    }
    this.render(logs);
    if (!logs.done) {
      this.schedule();
    }
  }

  dispose(): void {
    if (this.timer !== undefined) {
      window.clearTimeout(this.timer);
    }
    super.dispose();
  }

  private schedule(): void {
    if (!this.isDisposed) {
      this.timer = window.setTimeout(() => void this.refresh(), this.interval * 1000);
    }
  }

  private render(logs: IRunLogs): void {
    const run = logs.run;
    this.node.dataset.status = run.status;
    this.heading.replaceChildren(
      el('h2', {}, `${this.project} · pipeline #${run.number}`),
      statusBadge(run.status),
      el('span', { class: 'jp-Platform-meta' }, `${run.ref} @ ${run.commit_sha.slice(0, 10)}`)
    );
    const steps = logs.steps.map(step =>
      el(
        'section',
        { class: 'jp-Platform-step', 'data-step': step.name },
        el(
          'h3',
          {},
          step.name,
          ' ',
          statusBadge(step.status),
          step.exit_code === null ? '' : ` exit ${step.exit_code}`
        ),
        el('pre', { class: 'jp-Platform-log' }, step.log || '(no output yet)')
      )
    );
    this.body.replaceChildren(
      ...(steps.length ? steps : [el('p', { class: 'jp-Platform-empty' }, 'No steps yet.')])
    );
  }

  private readonly heading = el('div', { class: 'jp-Platform-logsHeader' });
  private readonly body = el('div', { class: 'jp-Platform-logsBody' });
  private timer: number | undefined = undefined;
}
