import packageJson from '../../package.json' with { type: 'json' };

/** The package version: `spotted --version` and the node API's `node_version`. */
export const SPOTTED_VERSION: string = packageJson.version;
