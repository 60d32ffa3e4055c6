"""A child process for the correction kill tests: starts the whole stack on DATA (argv[1]), stores two videos of two
synthetic people (tests/support/people.py), then makes correction argv[2] (delete: erases the first person; merge:
the second into the first; undo: of that merge; split: the second merged into the first, then split out again;
split-large: a third video of the first person's with BIG faces, split out; move-named: the second, named, moved
to a new influencer; enrol: the photo argv[3] as "Colin"; delete-merged: the second, named "Bo", merged into the
first, which is then erased;
rename: names the first "Ann"), with INFLUENCERS_CRASH_AT (if set) killing it part way, or right after its answer
(correct:acknowledged). Prints the first person's id, then the second's, on stdout."""

import os
import sys
from pathlib import Path

from influencers.stack import start_stack
from influencers.v1 import identity_pb2
from services.common.clients import connect
from services.common.crash import crash_point
from services.common.settings import Settings
from tests.support.people import BIG, BIG_VIDEO, add_faces, add_two_people


def main() -> None:
    settings = Settings(data_dir=Path(sys.argv[1]), ingest_port=0, identity_port=0, analytics_port=0,
                        web_port=0, workers=1)
    stack = start_stack(settings, web=False)
    victim, other = add_two_people(stack)
    print(victim, other, flush=True)
    identity, _ = connect(stack.settings)
    op = sys.argv[2] if len(sys.argv) > 2 else "delete"
    if op == "delete":
        identity.erase(victim)
    elif op == "delete-merged":  # the second named "Bo" and merged into the first (not killed), then the first erased
        armed = os.environ.pop("INFLUENCERS_CRASH_AT", "")
        identity.rename(other, "Bo")
        identity.merge([victim, other])
        os.environ["INFLUENCERS_CRASH_AT"] = armed
        identity.erase(victim)
    elif op == "merge":
        identity.merge([victim, other])
    elif op == "split":  # the second merged into the first (not killed), then split out again
        armed = os.environ.pop("INFLUENCERS_CRASH_AT", "")
        identity.merge([victim, other])
        os.environ["INFLUENCERS_CRASH_AT"] = armed
        identity.split(victim, ["00000000000000a2"])
    elif op == "split-large":  # the first person seen in a third video by BIG faces (stored unkilled), split out
        armed = os.environ.pop("INFLUENCERS_CRASH_AT", "")
        add_faces(stack, BIG_VIDEO, victim, BIG)
        os.environ["INFLUENCERS_CRASH_AT"] = armed
        identity.split(victim, [BIG_VIDEO])
    elif op == "move-named":  # the second, named "Bo" (not killed), moves its only appearance to a new influencer
        armed = os.environ.pop("INFLUENCERS_CRASH_AT", "")
        identity.rename(other, "Bo")
        os.environ["INFLUENCERS_CRASH_AT"] = armed
        identity.move("00000000000000a2", other)
    elif op in ("merge-named", "answer-named"):  # the second, named "Bo" first, into the first
        identity.rename(other, "Bo")
        if op == "merge-named":
            identity.merge([victim, other])
        else:
            identity.answer(victim, other, identity_pb2.REVIEW_ANSWER_SAME)
    elif op == "undo":  # of a merge made before (not killed: no crash point of a merge is named)
        identity.undo(identity.merge([victim, other]).audit.audit_id)
    elif op == "enrol":  # argv[3]: a photo of someone else, enrolled as "Colin"
        identity.enrol("Colin", [Path(sys.argv[3]).read_bytes()])
    else:
        identity.rename(victim, "Ann")
    crash_point("correct:acknowledged")  # a kill right after the correction's answer came back
    print("erased", flush=True)
    stack.stop()


if __name__ == "__main__":
    main()
