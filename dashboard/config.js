// Deployment settings of the dashboard. A static-website deployment edits
// this file; query parameters override it (?api=https://host&offline=30).
// apiBase: '' means the API is on the same origin as this page.
window.ENVIROMON_CONFIG = { apiBase: '', offlineAfterSeconds: 60, pageSize: 50 };
