/**
 * platform-sdk: the platform's JupyterLab sidebar.
 *
 * Commands: `platform:open-run-logs` ({project, number}), `platform:open-dashboard`
 * ({project}) and `platform:insert-snippet` ({code}); the sidebar calls them.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IFrame, MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { api } from './api';
import { RunLogsWidget } from './logs';
import { PlatformSidebar } from './sidebar';

const ICON = new LabIcon({
  name: 'platform-sdk:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">' +
    '<g class="jp-icon3" fill="#616161"><path d="M12 2 2 7l10 5 10-5-10-5zm-10 10 10 5 ' +
    '10-5-2-1-8 4-8-4-2 1zm0 5 10 5 10-5-2-1-8 4-8-4-2 1z"/></g></svg>'
});

const COMMANDS = {
  openLogs: 'platform:open-run-logs',
  openDashboard: 'platform:open-dashboard',
  insertSnippet: 'platform:insert-snippet'
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'platform-sdk:plugin',
  description: 'Projects, pipeline runs, merge requests and alerts of the platform.',
  autoStart: true,
  optional: [INotebookTracker, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null
  ) => {
    const { commands, shell } = app;
    let pollSeconds = 3;
    let platformUrl: string | null = null;
    const config = api.config().then(
      c => {
        pollSeconds = c.poll_interval;
        platformUrl = c.platform_url;
        return c;
      },
      () => null
    );

    commands.addCommand(COMMANDS.openLogs, {
      label: 'Open Pipeline Run Logs',
      execute: args => {
        const project = String(args.project);
        const number = Number(args.number);
        const id = `platform-run-${project.replace('/', '-')}-${number}`;
        for (const widget of shell.widgets('main')) {
          if (widget.id === id) {
            shell.activateById(id);
            return;
          }
        }
        const content = new RunLogsWidget(project, number, pollSeconds);
        const widget = new MainAreaWidget({ content });
        widget.id = id;
        widget.title.label = content.title.label;
        widget.title.caption = content.title.caption;
        widget.title.icon = ICON;
        shell.add(widget, 'main');
        shell.activateById(id);
      }
    });

    commands.addCommand(COMMANDS.openDashboard, {
      label: 'Open Pipelines Dashboard',
      execute: async args => {
        const project = String(args.project);
        await config;
        if (!platformUrl) {
          Notification.error('The platform URL is not configured (PlatformConfig.url).');
          return;
        }
        const content = new IFrame({
          sandbox: ['allow-scripts', 'allow-same-origin', 'allow-forms', 'allow-popups']
        });
        content.url =
          `${platformUrl}/dashboards/pipelines?project=` + encodeURIComponent(project);
        const widget = new MainAreaWidget({ content });
        widget.id = `platform-dashboard-${project.replace('/', '-')}-${Date.now()}`;
        widget.title.label = `Pipelines: ${project}`;
        widget.title.icon = ICON;
        widget.title.closable = true;
        shell.add(widget, 'main');
        shell.activateById(widget.id);
      }
    });

    commands.addCommand(COMMANDS.insertSnippet, {
      label: 'Insert Platform SDK Snippet',
      execute: args => {
        const code = String(args.code ?? '');
        const panel = notebooks?.currentWidget;
        if (!panel) {
          Notification.warning('Open a notebook to insert the SDK snippet into.');
          return;
        }
        const notebook = panel.content;
        const active = notebook.activeCell;
        const reuse =
          active !== null &&
          active.model.type === 'code' &&
          active.model.sharedModel.getSource().trim() === '';
        if (!reuse) {
          NotebookActions.insertBelow(notebook);
        }
        notebook.activeCell?.model.sharedModel.setSource(code);
        shell.activateById(panel.id);
      }
    });

    const sidebar = new PlatformSidebar({
      openLogs: (project, number) => void commands.execute(COMMANDS.openLogs, { project, number }),
      openDashboard: project => void commands.execute(COMMANDS.openDashboard, { project }),
      insertSnippet: code => void commands.execute(COMMANDS.insertSnippet, { code })
    });
    sidebar.title.icon = ICON;
    shell.add(sidebar, 'left', { rank: 900 });
    restorer?.add(sidebar, sidebar.id);
  }
};

export default plugin;
