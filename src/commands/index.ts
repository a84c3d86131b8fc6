// Every command registers itself on the program; cli.ts only wires them.
import type { Command } from './commander.js';
import keygen from './keygen.js';
import render from './render.js';
import deploy from './deploy.js';
import status from './status.js';
import exporter from './exporter.js';
import down from './down.js';
import lab from './lab.js';
import publish from './publish.js';

type Register = (program: Command) => void;

export const commands: Register[] = [keygen, render, deploy, publish, status, exporter, down, lab];
