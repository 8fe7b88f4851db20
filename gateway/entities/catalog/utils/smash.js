/**
 * Return a hash map with one field. The field name is the fieldName parameter,
 * the value is the rest of the params.
 * @param fieldName The name of the field.
 */
function main(msg) {
    var retn = {};
    var fieldName = msg.fieldName;
    delete msg.fieldName;
    retn[fieldName] = msg;
    return retn;
}
