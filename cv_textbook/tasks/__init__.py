"""The kinds of work a model is trained for, as objects: ``ClassificationTask``,
``SegmentationTask``, ``DetectionTask``. A model's spec names its task and options; ``for_spec``
makes the task object, ``from_record`` makes it again from a run's ``metrics.json``.
"""

from __future__ import annotations

from cv_textbook.tasks.base import Task, TaskData, examples
from cv_textbook.tasks.classification import ClassificationTask
from cv_textbook.tasks.detection import DetectionTask
from cv_textbook.tasks.segmentation import SegmentationTask

TASKS: dict[str, type[Task]] = {task.name: task for task in (ClassificationTask, SegmentationTask, DetectionTask)}


def for_spec(spec, **overrides) -> Task:
    """The task of a model's spec, with its options and ``overrides`` (e.g. ``labels="semantic"``)."""
    task_class = TASKS[spec.task]
    unknown = {key: value for key, value in overrides.items() if key not in task_class.OPTIONS}
    if unknown:
        key, value = next(iter(unknown.items()))
        takers = [task.plural for task in TASKS.values() if key in task.OPTIONS]
        owner = f"is for {' and '.join(takers)}" if takers else "is not an option of any task"
        options = ", ".join(task_class.OPTIONS) or "none"
        raise ValueError(f"{key}={value!r} {owner}; {spec.name} is {task_class.noun} (options: {options}). "
                         f"Leave {key} out.")
    return task_class(**{**spec.task_options, **overrides})


def from_record(record: dict) -> Task:
    """The task a run was trained for, from its metrics.json."""
    task_class = TASKS[record.get("task", ClassificationTask.name)]
    options = {key: record[key] for key in task_class.OPTIONS if key in record}
    if "labels" in task_class.OPTIONS and "canvas_mode" in record:  # runs saved before tasks were objects
        options["labels"] = record["canvas_mode"]
    return task_class(**options)


__all__ = ["TASKS", "ClassificationTask", "DetectionTask", "SegmentationTask", "Task", "TaskData", "examples", "for_spec",
           "from_record"]
