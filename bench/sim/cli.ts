#!/usr/bin/env node
// vantage-sim entry: see main.ts for the command line.
import { main } from './main.js';

await main(process.argv);
