// commander, required rather than imported (see cjs.ts), under the names the commands use.
import type * as Commander from 'commander';
import { requireCjs } from '../cjs.js';

export const { Command, CommanderError, InvalidArgumentError, Option } = requireCjs('commander') as typeof Commander;
export type Command = Commander.Command;
export type CommanderError = Commander.CommanderError;
export type Option = Commander.Option;
