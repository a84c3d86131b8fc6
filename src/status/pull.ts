// Pull mode in status: the registry each node runs against the newest one published, and what is
// wrong when a node lags behind, in plain words with the likely fix. Pure.
import type { NodePull } from '../agent/report.js';
import type { NodeRegistry } from './types.js';

/**
 * What `status` says of a node's registry. `published`: the newest serial publish wrote (0: none
 * yet); `pull`: the node's report, absent when it is not enrolled; `now`: unix seconds.
 */
export function nodeRegistry(node: string, pull: NodePull | undefined, published: number, now: number): NodeRegistry {
  if (!pull) return { serial: null, age: null, problem: `${node}: not enrolled for pull mode (mesh.pull is set) — run deploy` };
  const serial = pull.serial;
  const age = pull.published === null ? null : Math.max(0, now - pull.published);
  const last = lastPull(pull, now);
  if (serial === null) {
    return published === 0
      ? { serial, age }
      : { serial, age, problem: `${node}: runs no registry yet, the newest published is serial ${published} — ${last}` };
  }
  if (serial < published)
    return { serial, age, problem: `${node}: runs registry serial ${serial}, the newest published is ${published} — ${last}` };
  if (pull.expires !== null && pull.expires < now) {
    return {
      serial,
      age,
      problem: `${node}: its registry (serial ${serial}) expired ${ago(now - pull.expires)} ago — publish again and upload it`,
    };
  }
  return { serial, age };
}

function lastPull(pull: NodePull, now: number): string {
  if (pull.lastAttempt === null) return 'it has not pulled yet: wait for its timer, or run rait-fleet-agent pull there';
  const when = `${ago(now - pull.lastAttempt)} ago`;
  if (pull.lastError !== '') return `its last pull (${when}) failed: ${pull.lastError}`;
  return `its last pull (${when}) found nothing newer: is the published directory uploaded to mesh.pull.url?`;
}

/** A duration as a person reads it. */
export function ago(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}
