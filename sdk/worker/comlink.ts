/**
 * Comlink, typed. Comlink 4.4 has no package exports map, so its ESM files are imported by path
 * and given the types of its published declarations.
 */
// @ts-expect-error comlink ships no declaration for its .mjs path; typed below
import * as comlinkEsm from 'comlink/dist/esm/comlink.mjs';
// @ts-expect-error comlink ships no declaration for its .mjs path; typed below
import nodeEndpointEsm from 'comlink/dist/esm/node-adapter.mjs';
import type * as ComlinkApi from 'comlink';
import type { NodeEndpoint } from 'comlink/dist/umd/node-adapter.js';

const comlink = comlinkEsm as typeof ComlinkApi;

export const { expose, wrap, transfer, releaseProxy } = comlink;
/** Maps a worker_threads Worker or MessagePort onto Comlink's Endpoint. */
export const nodeEndpoint = nodeEndpointEsm as (nep: NodeEndpoint) => ComlinkApi.Endpoint;
export type { Endpoint, Remote } from 'comlink';
