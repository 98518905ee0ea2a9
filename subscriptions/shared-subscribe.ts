import { GraphQLError, Kind, print, subscribe, type ExecutionArgs, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import { Channel, type ChannelOptions } from './channel.ts';

/** Options of the shared subscription executor. */
export interface SharedSubscribeOptions {
  /** Root-field arguments that make a subscription personal (e.g. a replay position): such operations are never shared. */
  personalArguments: readonly string[];
  /** Extra key parts that must match for two subscribers to share (e.g. the principal's role). Default: none. */
  partition?: (args: ExecutionArgs) => string;
  /** Results buffered per subscriber before a slow one is dropped. Default 1,000. */
  capacity?: number;
  /** Executes one subscription (a shared one once for all its members). Default: graphql-js `subscribe`. */
  subscribe?: (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;
  /** Called after each shared result was handed to every member (e.g. to renew per-event state of the upstream context). */
  afterResult?: (contextValue: unknown) => void;
}

interface Group {
  key: string;
  members: Set<Channel<ExecutionResult>>;
  upstream: AsyncIterator<ExecutionResult>;
  /** One options object for every member's channel: a member costs its channel and its set entry, no closures. */
  memberOptions: ChannelOptions<ExecutionResult>;
}

/**
 * A `subscribe` for graphql-ws that executes each distinct live operation (same document,
 * variables and partition) once and hands the same result to all its subscribers, instead of
 * running the selection set once per subscriber per event. Subscribers join live: only
 * operations without personal arguments (a replay offset) are shared.
 */
export function createSharedSubscribe(options: SharedSubscribeOptions) {
  const groups = new Map<string, Group>();
  const keys = new WeakMap<object, string | null>();
  const memberContexts = new WeakSet<object>();
  const capacity = options.capacity ?? 1_000;
  const execute = options.subscribe ?? ((args: ExecutionArgs) => subscribe(args) as Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>);

  function keyOf(args: ExecutionArgs): string | null {
    let documentKey = keys.get(args.document);
    if (documentKey === undefined) {
      const operations = args.document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
      const personal = operations.some((operation) =>
        operation.selectionSet.selections.some(
          (selection) => selection.kind === Kind.FIELD && (selection.arguments ?? []).some((a) => options.personalArguments.includes(a.name.value)),
        ),
      );
      documentKey = personal ? null : print(args.document);
      keys.set(args.document, documentKey);
    }
    if (documentKey === null) return null;
    return `${options.partition?.(args) ?? ''}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${documentKey}`;
  }

  function openGroup(key: string, upstream: AsyncIterator<ExecutionResult>): Group {
    const group: Group = {
      key,
      members: new Set(),
      upstream,
      memberOptions: {
        capacity,
        overflowError: slowMember,
        onClose: (member) => {
          group.members.delete(member);
          if (group.members.size === 0 && groups.get(group.key) === group) {
            groups.delete(group.key);
            void group.upstream.return?.();
          }
        },
      },
    };
    groups.set(key, group);
    return group;
  }

  function join(group: Group): Channel<ExecutionResult> {
    const member = new Channel(group.memberOptions);
    group.members.add(member);
    return member;
  }

  function slowMember(): GraphQLError {
    return new GraphQLError(`Subscription dropped: more than ${capacity} results were waiting for this client (consumer too slow).`, {
      extensions: { code: 'RATE_LIMITED', reason: 'SLOW_CONSUMER', capacity },
    });
  }

  async function pump(group: Group, contextValue: unknown): Promise<void> {
    try {
      for (;;) {
        const next = await group.upstream.next();
        if (next.done) break;
        for (const member of group.members) member.push(next.value);
        options.afterResult?.(contextValue);
      }
      for (const member of group.members) member.end();
    } catch (error) {
      for (const member of group.members) member.fail(error);
    } finally {
      if (groups.get(group.key) === group) groups.delete(group.key);
    }
  }

  return {
    /** Open shared executions (for tests and metrics). */
    get groups(): number {
      return groups.size;
    },
    /** Whether this context belongs to a shared subscriber (whose own context never executes). */
    isShared(contextValue: unknown): boolean {
      return typeof contextValue === 'object' && contextValue !== null && memberContexts.has(contextValue);
    },
    async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
      const key = keyOf(args);
      if (key === null) return execute(args);
      if (typeof args.contextValue === 'object' && args.contextValue !== null) memberContexts.add(args.contextValue);
      const existing = groups.get(key);
      if (existing) return join(existing);
      const result = await execute(args);
      if (!(Symbol.asyncIterator in result)) return result;
      // Another subscriber may have opened the group while this one was subscribing.
      const raced = groups.get(key);
      if (raced) {
        void result.return?.();
        return join(raced);
      }
      const group = openGroup(key, result);
      const member = join(group);
      void pump(group, args.contextValue);
      return member;
    },
  };
}
