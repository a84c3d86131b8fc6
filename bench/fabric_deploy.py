"""The same job as `rait-fleet deploy`, the Fabric way: one connection per node, all nodes at once
from a thread pool; copy the staged files (bench/stage.ts) over SFTP and run the same agent on
them from a private stage, as deploy's payload does.

Usage: fabric_deploy.py HOSTS_JSON RUN_COMMAND -- HOSTS_JSON: [{"name", "host", "key",
"known_hosts", "stage"}], RUN_COMMAND: what each node runs after the copy. Run as root.
"""
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import paramiko
from fabric import Connection

REMOTE = "/root/rfbench/files"


def deploy(node, run_command):
    conn = Connection(node["host"], user="root", connect_kwargs={
        "key_filename": node["key"], "look_for_keys": False, "allow_agent": False})
    conn.client.load_host_keys(node["known_hosts"])
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        conn.run(f"mkdir -p -m 0700 {REMOTE}", hide=True)
        files = os.path.join(node["stage"], "files")
        for name in sorted(os.listdir(files)):
            conn.put(os.path.join(files, name), f"{REMOTE}/{name}")
        conn.run(run_command, hide=True)
    finally:
        conn.close()


def main():
    with open(sys.argv[1]) as f:
        nodes = json.load(f)
    run_command = sys.argv[2]
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        list(pool.map(lambda n: deploy(n, run_command), nodes))


if __name__ == "__main__":
    main()
