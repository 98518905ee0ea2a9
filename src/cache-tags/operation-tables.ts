import {
  getNamedType,
  isAbstractType,
  isObjectType,
  Kind,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { ANY_TABLE, FIELD_TABLES } from './field-tables.ts';

/** Deepest selection followed; deeper operations are refused by the depth limit anyway. */
const MAX_DEPTH = 32;

/**
 * The tables an operation reads, sorted: the union of {@link FIELD_TABLES} over every field it
 * selects (through fragments; on an interface or union, over every type that may answer). A
 * field with a resolver but no entry counts as reading any table, so it is never served stale.
 */
export function tablesOfOperation(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Readonly<Record<string, FragmentDefinitionNode | undefined>>,
): string[] {
  const tables = new Set<string>();
  const root = schema.getRootType(operation.operation);
  if (!root) return [];
  const visit = (set: SelectionSetNode, parents: readonly GraphQLObjectType[], depth: number): void => {
    if (depth > MAX_DEPTH) return;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const children: GraphQLObjectType[] = [];
        for (const parent of parents) {
          const field = parent.getFields()[name];
          if (!field) continue;
          for (const table of tablesOfField(parent, field)) tables.add(table);
          children.push(...objectTypes(schema, getNamedType(field.type)));
        }
        if (selection.selectionSet && children.length > 0) visit(selection.selectionSet, unique(children), depth + 1);
      } else {
        const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments[selection.name.value];
        if (!fragment) continue;
        const condition = fragment.typeCondition ? schema.getType(fragment.typeCondition.name.value) : undefined;
        const narrowed = condition ? parents.filter((p) => objectTypes(schema, condition).includes(p)) : parents;
        if (narrowed.length > 0) visit(fragment.selectionSet, narrowed, depth + 1);
      }
    }
  };
  visit(operation.selectionSet, [root], 0);
  return [...tables].sort();
}

/** What one field reads: its declared tables, any table for an undeclared resolver, none for a plain property. */
function tablesOfField(parent: GraphQLObjectType, field: GraphQLField<unknown, unknown>): readonly string[] {
  const declared = FIELD_TABLES[`${parent.name}.${field.name}`];
  if (declared) return declared;
  return field.resolve ? [ANY_TABLE] : [];
}

/** The object types a value of `type` may be: itself, or the possible types of an interface or union. */
function objectTypes(schema: GraphQLSchema, type: GraphQLNamedType | undefined): readonly GraphQLObjectType[] {
  if (!type) return [];
  if (isObjectType(type)) return [type];
  if (isAbstractType(type)) return schema.getPossibleTypes(type);
  return [];
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
