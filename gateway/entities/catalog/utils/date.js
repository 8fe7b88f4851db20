/**
 * Print and return the current date.
 */
function main() {
    var now = new Date();
    console.log('It is now ' + now);
    return { date: now };
}
