// Answers can-fetch questions about a robots.txt with the npm robots-parser (RFC 9309 longest
// match, * and $). Usage: node robots_check.js ROBOTS_FILE CHECKS_FILE, where CHECKS_FILE is
// {"robotsUrl": "...", "checks": [{"agent": "...", "url": "..."}]}; prints a JSON array of booleans.
const fs = require('fs');
const robotsParser = require('robots-parser');

const [robotsFile, checksFile] = process.argv.slice(2);
const input = JSON.parse(fs.readFileSync(checksFile, 'utf8'));
const robots = robotsParser(input.robotsUrl, fs.readFileSync(robotsFile, 'utf8'));
// isAllowed answers undefined for a URL of another host: that prints null and fails the test.
console.log(JSON.stringify(input.checks.map(c => robots.isAllowed(c.url, c.agent) ?? null)));
