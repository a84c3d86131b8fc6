"""The same job as `rait-fleet deploy`, the Fabric way: one connection per node, all nodes at once
from a thread pool; copy the staged files (bench/stage.ts) over SFTP and run the same agent.

Usage: fabric_deploy.py HOSTS_JSON  -- [{"name", "host", "key", "known_hosts", "stage"}], run as root.
"""
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import paramiko
from fabric import Connection

FILES = ["plan", "rait.conf", "peers.conf", "babeld.conf", "private.key", "agent.sh"]
REMOTE = "/root/rfbench"


def deploy(node):
    conn = Connection(node["host"], user="root", connect_kwargs={
        "key_filename": node["key"], "look_for_keys": False, "allow_agent": False})
    conn.client.load_host_keys(node["known_hosts"])
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        conn.run(f"mkdir -p -m 0700 {REMOTE}", hide=True)
        for name in FILES:
            conn.put(f"{node['stage']}/{name}", f"{REMOTE}/{name}")
        conn.run(f"sh {REMOTE}/agent.sh deploy", hide=True)
    finally:
        conn.close()


def main():
    with open(sys.argv[1]) as f:
        nodes = json.load(f)
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        list(pool.map(deploy, nodes))


if __name__ == "__main__":
    main()
