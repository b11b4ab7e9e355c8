// html: htm's tagged templates bound to Preact's h (no JSX, no build step beyond fingerprinting)
import { h } from './vendor/preact.6d0f985e12.js';
import htm from './vendor/htm.ab33dd3f38.js';

export const html = htm.bind(h);
