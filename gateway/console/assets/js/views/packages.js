// Packages (and bindings) and API gateway routes: lists and one package's contents.

import { call, entityPath, NS } from '../api.js';
import { facts, h, json, show, table, when } from '../dom.js';
import { actionLink } from './actions.js';
import { entityList } from './listing.js';

export async function packageList(main) {
  await entityList(main, {
    title: 'Packages', collection: 'packages', noun: 'package', headers: ['Name', 'Version', 'Shared', 'Binding', 'Updated'],
    optional: [4],
    row: (pkg) => [h('a', { href: `#/packages/${encodeURIComponent(pkg.name)}` }, pkg.name), pkg.version,
      pkg.publish ? 'yes' : 'no', pkg.binding && pkg.binding.name ? `${pkg.binding.namespace}/${pkg.binding.name}` : '',
      when(pkg.updated)],
  });
}

export async function packageDetail(main, name) {
  const { body: pkg } = await call('GET', entityPath('packages', name));
  const binding = pkg.binding && pkg.binding.name ? `${pkg.binding.namespace}/${pkg.binding.name}` : null;
  show(main,
    h('p', {}, h('a', { href: '#/packages' }, '← Packages')),
    h('h1', {}, `Package ${name}`),
    facts([['Version', pkg.version], ['Shared', pkg.publish ? 'yes' : 'no'], binding ? ['Binding of', binding] : null,
      ['Updated', when(pkg.updated)]]),
    h('h2', {}, 'Actions'),
    table('Actions in this package', ['Action', 'Version'],
      (pkg.actions || []).map((action) => [actionLink(`${name}/${action.name}`), action.version])),
    h('h2', {}, 'Parameters'), json(pkg.parameters),
    h('h2', {}, 'Annotations'), json(pkg.annotations));
}

/** The namespace's API gateway routes, as `wsk api list` reads them (the route-management web action). */
export async function routeList(main) {
  const { body } = await call('GET', '/api/v1/web/whisk.system/apimgmt/getApi.http');
  const rows = [];
  for (const api of (body && body.apis) || []) {
    const value = api.value || {};
    const doc = value.apidoc || {};
    for (const [path, operations] of Object.entries(doc.paths || {})) {
      for (const [verb, operation] of Object.entries(operations || {})) {
        const target = (operation && operation['x-openwhisk']) || {};
        rows.push([(doc.info && doc.info.title) || '', `${doc.basePath || ''}${path}`, verb.toUpperCase(),
          target.action ? `${target.package ? `${target.package}/` : ''}${target.action}` : '',
          value.gwApiUrl ? `${value.gwApiUrl}${path}` : '']);
      }
    }
  }
  show(main, h('h1', {}, 'Routes'),
    h('p', { class: 'hint' }, 'API gateway routes, created with wsk api create or aio rt api create.'),
    table(`${rows.length} route${rows.length === 1 ? '' : 's'}`, ['API', 'Path', 'Verb', 'Action', 'URL'], rows, [0, 4]));
}
