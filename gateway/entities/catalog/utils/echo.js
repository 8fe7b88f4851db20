/**
 * Returns params, or an empty object if no parameter values are provided.
 */
function main(params) {
    return params || {};
}
