// What a package's typecheck sees for a workspace package that its package.json does not declare
// (packages/*/tsconfig.json map them here): importing any name from it fails, as it should.
export declare const undeclaredWorkspaceDependency: unique symbol;
