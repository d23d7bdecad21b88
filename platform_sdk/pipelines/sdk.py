"""``project.pipelines`` → :class:`RunManager`; runs, their steps, logs and artifacts.

>>> run = p.projects.get("alice/app").pipelines.trigger("main", {"TARGET": "prod"})
>>> run.wait(progress=True)           # tqdm over the steps; returns the finished run
>>> print(run.steps["test"].logs())
>>> for event in run.stream(): ...    # live status and log events until the run ends
>>> run.artifacts[0].download("dist/")

``wait()`` needs a worker to run the steps: the server's, when ``platform serve`` runs on the
same database; otherwise (an embedded platform in a notebook or a script) ``wait`` drives a
worker in this process until the run ends — ``drive=False`` only waits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tqdm.auto import tqdm

from platform_sdk.core.extras import missing_extra
from platform_sdk.errors import Unavailable
from platform_sdk.pipelines.follow import FollowEvent, follow_run
from platform_sdk.pipelines.schemas import ArtifactOut, RunOut, RunStatus, StepOut, TriggerIn
from platform_sdk.pipelines.services import runs as svc
from platform_sdk.pipelines.services import steps as step_svc
from platform_sdk.sdkbase import Listing, Manager, Resource

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["Artifact", "PipelineRun", "RunManager", "Step"]


class Step(Resource[StepOut]):
    _label: ClassVar[str] = "name"

    def __init__(self, manager: Manager[Any], data: StepOut, run: PipelineRun) -> None:
        super().__init__(manager, data)
        self.run = run

    def logs(self, attempt: int | None = None) -> str:
        """The step's whole log so far (latest attempt unless ``attempt`` is given)."""
        chunk = self.run._manager._call(
            step_svc.step_log,
            project=self.run.project,
            number=self.run.number,
            step=self._data.name,
            attempt=attempt,
        )
        return str(chunk.text)


class Artifact(Resource[ArtifactOut]):
    _label: ClassVar[str] = "name"

    def __init__(self, manager: Manager[Any], data: ArtifactOut, run: PipelineRun) -> None:
        super().__init__(manager, data)
        self.run = run

    def read(self) -> bytes:
        _, f = self.run._manager._call(
            step_svc.open_artifact,
            project=self.run.project,
            number=self.run.number,
            name=self._data.name,
            step=self._data.step,
        )
        with f:
            return bytes(f.read())

    def download(self, dest: str | Path = ".") -> Path:
        """Write the artifact into folder ``dest`` (its base name); answers the file's path."""
        folder = Path(dest)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / Path(self._data.name).name
        target.write_bytes(self.read())
        return target


class PipelineRun(Resource[RunOut]):
    _label: ClassVar[str] = "number"

    def refresh(self) -> PipelineRun:
        self._data = self._manager._call(svc.get_run, project=self.project, number=self.number)
        return self

    @property
    def steps(self) -> dict[str, Step]:
        """The run's steps by name, in definition order (fresh from the store)."""
        self.refresh()
        return {s.name: Step(self._manager, s, self) for s in self._data.steps}

    @property
    def artifacts(self) -> list[Artifact]:
        items = self._manager._call(
            step_svc.list_artifacts, project=self.project, number=self.number
        )
        return [Artifact(self._manager, a, self) for a in items]

    def cancel(self) -> PipelineRun:
        self._data = self._manager._call(svc.cancel_run, project=self.project, number=self.number)
        return self

    def rerun(self) -> PipelineRun:
        manager: RunManager = self._manager  # type: ignore[assignment]
        return manager._wrap(manager._call(svc.rerun, project=self.project, number=self.number))

    def stream(
        self, step: str | None = None, timeout: float | None = None
    ) -> Iterator[FollowEvent]:
        """Live ``status``/``log``/``end`` events until the run ends (or ``timeout``)."""
        platform = self._manager.platform
        return follow_run(
            platform, platform.actor, self.project, self.number, step=step, timeout=timeout
        )

    def wait(
        self, *, progress: bool = False, timeout: float | None = None, drive: bool = True
    ) -> PipelineRun:
        """Block until the run ended; ``progress`` shows a tqdm bar over its steps."""
        platform = self._manager.platform
        if drive and platform.settings.pipeline_max_parallel > 0:
            worker = platform.pipeline_worker()
            worker.drive(self._data.id, timeout=timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = tqdm(
            total=len(self._data.steps) or None,
            desc=f"pipeline #{self.number}",
            disable=not progress,
            unit="step",
        )
        try:
            while True:
                self.refresh()
                done = sum(1 for s in self._data.steps if s.status.is_terminal)
                bar.total = len(self._data.steps)
                bar.n = done
                bar.set_postfix_str(self._data.status.value)
                bar.refresh()
                if self._data.status.is_terminal:
                    return self
                if deadline is not None and time.monotonic() > deadline:
                    raise Unavailable(
                        f"pipeline #{self.number} still {self._data.status.value} after "
                        f"{timeout} s",
                        retry_after=5,
                    )
                time.sleep(0.1)
        finally:
            bar.close()

    @property
    def succeeded(self) -> bool:
        return self._data.status == RunStatus.SUCCESS

    def widget(self, *, interval: float = 1.0) -> Any:
        """An ipywidgets live view of this run's step statuses (updates until it ends)."""
        try:
            from platform_sdk.dashboards.widget import run_widget
        except ImportError as exc:
            raise missing_extra("workbench", "run widgets", exc) from None

        return run_widget(self, interval=interval)


class RunManager(Manager[PipelineRun]):
    """Pipeline runs of one project, newest first."""

    resource = PipelineRun

    def __init__(self, platform: Platform, project: str) -> None:
        super().__init__(platform)
        self.project = project

    def trigger(
        self, ref: str | None = None, parameters: Mapping[str, str] | None = None
    ) -> PipelineRun:
        """Start a manual run of ``ref`` (default branch when omitted)."""
        body = TriggerIn(ref=ref, parameters=dict(parameters or {}))
        return self._wrap(self._call(svc.trigger_run, project=self.project, body=body))

    def list(self, status: str | None = None, ref: str | None = None) -> Listing[PipelineRun]:
        return self._listing(
            svc.list_runs,
            project=self.project,
            status=RunStatus(status) if status else None,
            ref=ref,
        )

    def get(self, number: int) -> PipelineRun:
        return self._wrap(self._call(svc.get_run, project=self.project, number=number))

    def __getitem__(self, number: int) -> PipelineRun:
        return self.get(number)

    def latest(self) -> PipelineRun | None:
        for run in self.list():
            return run.refresh()
        return None

    def __repr__(self) -> str:
        return f"<RunManager {self.project}>"
