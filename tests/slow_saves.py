"""``python tests/slow_saves.py SECONDS train-vae --config ...``: the textgen command line, with every checkpoint
save pausing ``SECONDS`` between writing its temporary folder and the rename that commits it, so that the
kill-harness tests (test_fault_tolerance.py) can land a SIGKILL inside a save. The pause is patched in here,
before the trainers are imported; the library itself has no test hook."""
import sys
import time

import textgen.core.trainer as core_trainer

pause = float(sys.argv.pop(1))
commit = core_trainer.commit_checkpoint


def slow_commit(folder, write):
    def write_then_pause(tmp):
        write(tmp)
        time.sleep(pause)                  # inside the save: written, not yet renamed into place

    return commit(folder, write_then_pause)


core_trainer.commit_checkpoint = slow_commit

from textgen.__main__ import run  # noqa: E402  (after the patch: the trainers bind the slow commit)

raise SystemExit(run())
