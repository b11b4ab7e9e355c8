// html: htm's tagged templates bound to Preact's h (no JSX, no build step beyond fingerprinting)
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
