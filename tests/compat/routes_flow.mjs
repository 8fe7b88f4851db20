// Drives Whisklet's API gateway routes with the real `openwhisk` npm client (its `routes` API), then
// calls the managed URLs as a browser would. Reads APIHOST and AUTH; prints one JSON object of what it saw.
import openwhisk from 'openwhisk';

const ow = openwhisk({ apihost: process.env.APIHOST, api_key: process.env.AUTH, ignore_certs: true });
const name = `compat-route-${process.pid}`;
const basepath = `/compat${process.pid}`;
const swaggerBase = `/compatsw${process.pid}`;
const code = "function main(p) { return { statusCode: 200, headers: {'content-type': 'application/json'}, " +
  "body: { method: p.__ow_method, path: p.__ow_path, title: p.title } }; }";
const seen = {};

const failure = async (call) => {
  try { await call(); return 'succeeded'; } catch (error) { return { statusCode: error.statusCode, message: error.message }; }
};

await ow.actions.create({ name, action: code, annotations: { 'web-export': true } });
seen.createdPost = await ow.routes.create({ action: name, basepath, relpath: '/books/{isbn}', operation: 'POST', responsetype: 'http', name: 'Book Club' });
seen.createdGet = await ow.routes.create({ action: name, basepath, relpath: '/books/{isbn}', operation: 'GET', responsetype: 'http' });
seen.listed = await ow.routes.list({ basepath });
seen.listedAll = await ow.routes.list();
seen.gotByName = await ow.routes.get({ name: 'Book Club' });
const url = seen.createdGet.gwApiUrl;
seen.servedGet = await (await fetch(`${url}/books/42`)).json();
seen.servedPost = await (await fetch(`${url}/books/43`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Dune' }),
})).json();
seen.servedUnknown = (await fetch(`${url}/magazines`)).status;

const swagger = {
  swagger: '2.0', basePath: swaggerBase, info: { title: 'swagger-made', version: '1.0' },
  paths: { '/hello': { get: { operationId: 'getHello', 'x-openwhisk': {
    namespace: '_', package: '', action: name, url: `${process.env.APIHOST}/api/v1/web/_/default/${name}.json` } } } },
};
seen.swaggerCreateWithUnderscore = await failure(() => ow.routes.create({ swagger: JSON.stringify(swagger) }));
const own = (await ow.namespaces.list())[0];
swagger.paths['/hello'].get['x-openwhisk'].url = `${process.env.APIHOST}/api/v1/web/${own}/default/${name}.json`;
seen.swaggerCreated = await ow.routes.create({ swagger: JSON.stringify(swagger) });
seen.servedSwagger = await (await fetch(`${seen.swaggerCreated.gwApiUrl}/hello`)).json();

await ow.routes.delete({ basepath, relpath: '/books/{isbn}', operation: 'GET' });
seen.afterVerbDelete = await ow.routes.list({ basepath });
await ow.routes.delete({ basepath });
await ow.routes.delete({ basepath: swaggerBase });
seen.afterDelete = await ow.routes.list({ basepath });
seen.deleteMissing = await failure(() => ow.routes.delete({ basepath }));
seen.createMissingFields = await failure(() => ow.routes.create({ basepath }));
await ow.actions.delete({ name });
seen.namespace = own;
seen.basepath = basepath;

console.log(JSON.stringify(seen));
