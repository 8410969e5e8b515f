// Runs a wasm32-wasip1 program in node's V8. The filter crate links proxy-wasm, whose host
// imports ("env" module) the decision never calls: they are stubbed.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv, env } from 'node:process';

const wasi = new WASI({ version: 'preview1', args: [], env });
const module = await WebAssembly.compile(await readFile(argv[2]));
const imports = wasi.getImportObject();
imports.env = {};
for (const i of WebAssembly.Module.imports(module)) {
  if (i.module === 'env') imports.env[i.name] = () => 0;
}
const instance = await WebAssembly.instantiate(module, imports);
// The module also exports _initialize (proxy-wasm's), which wasi.start refuses: hand it
// only what a command needs.
wasi.start({ exports: { _start: instance.exports._start, memory: instance.exports.memory } });
