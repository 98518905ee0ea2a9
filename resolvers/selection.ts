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
