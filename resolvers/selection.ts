import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the current field's selection asks for `name` directly (through fragments too), so a
 * resolver can skip work nobody asked for, such as counting a whole filtered table.
 */
export function selects(info: GraphQLResolveInfo, name: string): boolean {
  const visit = (set: SelectionSetNode | undefined, depth: number): boolean => {
    if (!set || depth > 8) return false;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD && selection.name.value === name) return true;
      if (selection.kind === Kind.INLINE_FRAGMENT && visit(selection.selectionSet, depth + 1)) return true;
      if (selection.kind === Kind.FRAGMENT_SPREAD && visit(info.fragments[selection.name.value]?.selectionSet, depth + 1)) return true;
    }
    return false;
  };
  return info.fieldNodes.some((node) => visit(node.selectionSet, 0));
}

/**
 * Names of the fields selected below the current field's `child` (e.g. the fields of `rows`),
 * through fragments too, in the order first met.
 */
export function selectedBelow(info: GraphQLResolveInfo, child: string): string[] {
  const names = new Set<string>();
  const collect = (set: SelectionSetNode | undefined, depth: number, below: boolean): void => {
    if (!set || depth > 8) return;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (below) names.add(selection.name.value);
        else if (selection.name.value === child) collect(selection.selectionSet, depth + 1, true);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) collect(selection.selectionSet, depth + 1, below);
      else collect(info.fragments[selection.name.value]?.selectionSet, depth + 1, below);
    }
  };
  for (const node of info.fieldNodes) collect(node.selectionSet, 0, false);
  return [...names];
}
