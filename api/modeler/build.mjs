/**
 * Builds api/static/modeler/ from this folder: the bundles (modeler.js and modeler.css for the BPMN
 * pages, dmn.js and dmn.css for the decision editor, and their fonts), LICENSES.txt with the license
 * of every package the bundles hold, and SHA256SUMS over all of them (tests/test_modeler_bundle.py checks the committed files against it, without node).
 *
 * Run it through `make modeler-bundle` (npm ci first, so the lockfile decides every version).
 * The same lockfile and esbuild version give the same bytes.
 *
 * One change is made to a package on the way (withoutInlineStyles below): carecenter's pages allow no
 * inline styles (style-src 'self'), and bpmn-js-properties-panel builds its two containers from HTML
 * with style attributes, which the browser refused with a console error on every modeler page.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, '../static/modeler');
const BUILT = ['modeler.js', 'modeler.css', 'dmn.js', 'dmn.css', 'fonts', 'LICENSES.txt', 'SHA256SUMS'];

for (const name of BUILT) {
  rmSync(join(out, name), { recursive: true, force: true });
}
mkdirSync(out, { recursive: true });

/**
 * The style attributes of bpmn-js-properties-panel's containers, taken out (their rules are in
 * styles.css). The build fails when the package no longer has them, so that a new version is looked
 * at again rather than the refusals coming back unnoticed.
 */
const INLINE_STYLES = [
  ['<div style="height: 100%" tabindex="-1" class="bio-properties-panel-container">', '<div tabindex="-1" class="bio-properties-panel-container">'],
  [
    '<div style="flex: none; height: auto" class="bio-properties-panel bio-theme-parent bio-properties-panel-header-container">',
    '<div class="bio-properties-panel bio-theme-parent bio-properties-panel-header-container">',
  ],
];
const PANEL = /[\\/]node_modules[\\/]bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/;
let panelLoaded = false;
const withoutInlineStyles = {
  name: 'without-inline-styles',
  setup(build) {
    build.onLoad({ filter: PANEL }, (args) => {
      let source = readFileSync(args.path, 'utf8');
      for (const [styled, plain] of INLINE_STYLES) {
        if (!source.includes(styled)) {
          throw new Error(`${args.path} no longer builds ${styled}: see INLINE_STYLES in build.mjs`);
        }
        source = source.replaceAll(styled, plain);
      }
      panelLoaded = true;
      return { contents: source, loader: 'js' };
    });
  },
};

const result = await build({
  absWorkingDir: here,
  entryPoints: { modeler: 'entry.js', 'modeler-styles': 'styles.css', dmn: 'dmn-entry.js', 'dmn-styles': 'dmn-styles.css' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none', // collected whole into LICENSES.txt instead
  charset: 'utf8',
  outdir: out,
  assetNames: 'fonts/[name]-[hash]',
  loader: { '.woff2': 'file', '.woff': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  metafile: true,
  logLevel: 'warning',
  plugins: [withoutInlineStyles],
});
if (!panelLoaded) {
  throw new Error('bpmn-js-properties-panel was bundled from another file than dist/index.esm.js: see INLINE_STYLES');
}

// One stylesheet named like each script.
for (const name of ['modeler', 'dmn']) {
  const styles = join(out, `${name}-styles.css`);
  writeFileSync(join(out, `${name}.css`), readFileSync(styles));
  rmSync(styles);
}

const LICENSE_FILES = /^(licen[sc]e|copying)(\.(md|txt))?$/i;

function hasLicense(folder) {
  return readdirSync(folder).some((name) => LICENSE_FILES.test(name));
}

function manifestOf(folder) {
  const path = join(folder, 'package.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
}

/**
 * The folder of the npm package a bundled file comes from: the package under node_modules, or a
 * package vendored inside it with a license of its own (preact inside @bpmn-io/properties-panel).
 */
function packageOf(file) {
  const path = resolve(here, file);
  const at = path.lastIndexOf('/node_modules/');
  if (at < 0) {
    return null; // carecenter's own files
  }
  const parts = path.slice(at + '/node_modules/'.length).split('/');
  const root = join(path.slice(0, at), 'node_modules', ...parts.slice(0, parts[0].startsWith('@') ? 2 : 1));
  for (let folder = dirname(path); folder.length > root.length; folder = dirname(folder)) {
    const manifest = manifestOf(folder);
    if (manifest.name && manifest.version && hasLicense(folder)) {
      return folder;
    }
  }
  return root;
}

const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const folder = packageOf(input);
  if (folder && !packages.has(folder)) {
    packages.set(folder, manifestOf(folder));
  }
}
const sections = [...packages.entries()]
  .sort(([a, one], [b, other]) => (one.name + one.version).localeCompare(other.name + other.version) || a.localeCompare(b))
  .map(([folder, manifest]) => {
    const file = readdirSync(folder).find((name) => LICENSE_FILES.test(name));
    const license = typeof manifest.license === 'string' ? manifest.license : JSON.stringify(manifest.license);
    if (!license || license === 'undefined') {
      throw new Error(`${manifest.name} ${manifest.version} declares no license`);
    }
    const body = file
      ? readFileSync(join(folder, file), 'utf8').trim()
      : `The package ships no license file; its package.json declares the license ${license}` +
        (manifest.author ? ` (author: ${typeof manifest.author === 'string' ? manifest.author : manifest.author.name}).` : '.');
    return `${manifest.name} ${manifest.version} (${license})\n\n${body}\n`;
  });
const seen = new Set();
const unique = sections.filter((section) => !seen.has(section) && seen.add(section));
writeFileSync(
  join(out, 'LICENSES.txt'),
  'The third-party code in modeler.js and modeler.css (built by api/modeler/build.mjs), and its licenses.\n\n' +
    unique.join('\n' + '-'.repeat(78) + '\n\n'),
);

/** Every built file under `folder`, as paths relative to `out`, sorted. */
function files(folder) {
  return readdirSync(folder)
    .flatMap((name) => {
      const path = join(folder, name);
      return statSync(path).isDirectory() ? files(path) : [relative(out, path)];
    })
    .sort();
}
const sums = files(out)
  .filter((name) => BUILT.some((built) => name === built || name.startsWith(built + '/')))
  .map((name) => `${createHash('sha256').update(readFileSync(join(out, name))).digest('hex')}  ${name}\n`)
  .join('');
writeFileSync(join(out, 'SHA256SUMS'), sums);
process.stdout.write(sums);
