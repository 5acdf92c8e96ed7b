/**
 * Helpers for Ion modules written in TypeScript or JavaScript: read inputs, write outputs and
 * events, finish. Node's standard library only.
 *
 * ```ts
 * import { run } from "ion-module";
 *
 * await run((module) => {
 *   const text = module.readInputText("input.txt");
 *   module.writeFile("upper.txt", text.toUpperCase());
 *   module.publish("text_uppercased", { files: ["upper.txt"], data: { chars: text.length } });
 * });
 * ```
 */
export { Module, ModuleError, type Environment, type InsightOptions, type OpenOptions, type PublishOptions } from "./module.js";
export { run, type Handler } from "./run.js";
export { SidecarClient, SidecarError, errorMessage, type ReadyOptions } from "./sidecar.js";
