// deploy's rollout flags, checked together before anything runs. Pure.
import { InputError } from '../errors.js';
import type { Amount } from './batches.js';
import type { RolloutOptions } from './run.js';

export const DEFAULT_GATE_TIMEOUT_S = 30;
export const DEFAULT_CONFIRM_TIMEOUT_S = 30;
/** A switch due sooner could fire before a healthy deploy is confirmed. */
export const MIN_CONFIRM_TIMEOUT_S = 5;
const MAX_SECONDS = 3600;

export interface RolloutFlags {
  serial?: Amount[];
  maxFail?: Amount;
  gateTimeout?: number;
  confirmTimeout?: number;
  check?: boolean;
}

/** Commander's parser for --gate-timeout: whole seconds, 1–3600. */
export function gateSeconds(text: string): number {
  return seconds(text, '--gate-timeout', 1);
}

/** Commander's parser for --confirm-timeout: 0 (off) or 5–3600 whole seconds. */
export function confirmSeconds(text: string): number {
  const s = seconds(text, '--confirm-timeout', 0);
  if (s !== 0 && s < MIN_CONFIRM_TIMEOUT_S) {
    throw new InputError(
      `${s} s is too short to confirm a deploy over a new connection: 0 (off) or ${MIN_CONFIRM_TIMEOUT_S}–${MAX_SECONDS}`,
      {
        field: '--confirm-timeout',
      },
    );
  }
  return s;
}

function seconds(text: string, field: string, min: number): number {
  const s = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(s >= min && s <= MAX_SECONDS)) throw new InputError(`expected whole seconds, ${min}–${MAX_SECONDS}, got "${text}"`, { field });
  return s;
}

/** The rollout of a deploy from its flags, or an InputError naming the flag that does not fit. */
export function rolloutOptions(flags: RolloutFlags): RolloutOptions {
  const given = (['serial', 'maxFail', 'gateTimeout', 'confirmTimeout'] as const).filter((f) => flags[f] !== undefined);
  if (flags.check && given.length > 0) {
    throw new InputError('not with --check: a dry run changes nothing, so there is nothing to gate, confirm or roll back', {
      field: flagName(given[0]!),
    });
  }
  if (flags.serial === undefined) {
    const gateOnly = given.find((f) => f === 'maxFail' || f === 'gateTimeout');
    if (gateOnly) throw new InputError('only with --serial: it is about the health gate after each batch', { field: flagName(gateOnly) });
  }
  return {
    ...(flags.serial && { serial: flags.serial }),
    maxFail: flags.maxFail ?? { nodes: 0 },
    gateTimeoutS: flags.gateTimeout ?? DEFAULT_GATE_TIMEOUT_S,
    confirmTimeoutS: flags.confirmTimeout ?? DEFAULT_CONFIRM_TIMEOUT_S,
  };
}

const flagName = (f: keyof RolloutFlags): string => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
