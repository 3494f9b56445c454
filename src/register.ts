// Type stub for `endguard/register` (a side-effect-only entry: see bootstrap.ts).
export {};
