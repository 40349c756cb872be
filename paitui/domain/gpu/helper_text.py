"""The script the fdinfo helper container runs, and the parser of what it prints (pure).

The helper is busybox ``sh`` in a container with ``--pid=host`` and CAP_SYS_PTRACE, so it can
read the fdinfo of any process, whoever runs paitui (a member of the ``docker`` group can
already start such a container; paitui itself stays unprivileged). Output, one marker a line::

    @@proc PID COMM     a process whose fds were listed
    @@fd FD             followed by that fd's fdinfo text
    @@gone PID          exited before it was read
    @@lost FD           that fd's fdinfo could not be read (closed meanwhile)
    @@denied PID        not readable even here
    @@end               the script ran to the end (a cut-off answer lacks it)
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: $AWAKE: space-separated node names that may be read (``renderD128 card0``); $PREFIX: the
#: directory of those nodes (``/dev/dri/``). Arguments: the PIDs.
HELPER_SCRIPT = r"""
for p in "$@"; do
  if [ ! -e /proc/$p/fd ]; then echo "@@gone $p"; continue; fi
  # listing fd/ may pass where reading fdinfo is refused: test ptrace rights on exe
  if ! readlink /proc/$p/exe >/dev/null 2>&1; then
    if [ -e /proc/$p ]; then echo "@@denied $p"; else echo "@@gone $p"; fi
    continue
  fi
  c=$(tr -cd 'A-Za-z0-9._:-' < /proc/$p/comm 2>/dev/null)
  echo "@@proc $p $c"
  for f in /proc/$p/fd/*; do
    t=$(readlink "$f") || continue
    case "$t" in "$PREFIX"*) ;; *) continue;; esac
    case " $AWAKE " in *" ${t##*/} "*) ;; *) continue;; esac
    n=${f##*/}
    echo "@@fd $n"
    cat /proc/$p/fdinfo/$n 2>/dev/null || echo "@@lost $n"
  done
done
echo "@@end"
"""


@dataclass
class HelperAnswer:
    """The helper's output, per PID."""

    fdinfo: dict[int, list[str]] = field(default_factory=dict)
    comm: dict[int, str] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    denied: set[int] = field(default_factory=set)
    complete: bool = False


def parse_helper_output(text: str) -> HelperAnswer:
    """Split the helper's output; lines before any marker and unknown markers are ignored."""
    answer = HelperAnswer()
    chunks: dict[int, list[list[str]]] = {}
    pid: int | None = None
    current: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("@@"):
            if current is not None:
                current.append(line)
            continue
        word, _, rest = line[2:].partition(" ")
        arg, _, tail = rest.partition(" ")
        current = None
        if word == "fd" and pid is not None and arg.isdigit():
            current = []
            chunks[pid].append(current)
            continue
        if word == "lost" and pid is not None:
            if chunks[pid]:
                chunks[pid].pop()  # its partial text is no fdinfo
            continue
        pid = None
        if word == "end":
            answer.complete = True
        elif word in ("proc", "gone", "denied") and arg.isdigit():
            n = int(arg)
            if word == "proc":
                pid = n
                answer.comm[n] = tail.strip()
                chunks.setdefault(n, [])
            else:
                (answer.gone if word == "gone" else answer.denied).add(n)
    answer.fdinfo = {p: ["\n".join(c) for c in cs] for p, cs in chunks.items()}
    return answer
