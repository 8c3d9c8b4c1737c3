#!/usr/bin/env python3
"""Tiny recording TCP proxy used to build fuzz/corpus/resp/.

Listens on 127.0.0.1:LISTEN_PORT, forwards every connection to
127.0.0.1:TARGET_PORT, and appends every byte a client sends to
OUT_DIR/<name>-<n>.resp (one file per client connection). Replies pass
through untouched and are not recorded. Runs until killed.

Usage: record_proxy.py LISTEN_PORT TARGET_PORT OUT_DIR NAME
See fuzz/README.md for how the corpus was captured.
"""

import os
import socket
import sys
import threading


def pump(src, dst, record=None):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if record is not None:
                record.write(data)
                record.flush()
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    listen_port, target_port, out_dir, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    os.makedirs(out_dir, exist_ok=True)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(64)
    n = 0
    while True:
        client, _ = srv.accept()
        upstream = socket.create_connection(("127.0.0.1", target_port))
        n += 1
        record = open(os.path.join(out_dir, "%s-%d.resp" % (name, n)), "wb")
        t1 = threading.Thread(target=pump, args=(client, upstream, record), daemon=True)
        t2 = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        t1.start()
        t2.start()


if __name__ == "__main__":
    main()
