"""A moto S3 server in a process of its own: ``python -m bench.moto_server PORT``.

Not in the harness's process: moto serving a 1 GiB object needs a core, and sharing the
harness's GIL with the clients that measure it would skew both. Stops on SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading

from moto.server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(f"moto listening on 127.0.0.1:{port}", flush=True)
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
