// Serves mongo-java-server (de.bwaldvogel) on a TCP port as a stand-alone process, so the
// services and tests can use it like any MongoDB server at mongodb://HOST:PORT.
//
//   java -cp "LIBS/*:CLASSES" Launcher [--host 127.0.0.1] [--port 27017]
//        [--backend memory|h2] [--h2-file PATH] [--h2-fsync] [--h2-retention-ms 1000] [--h2-cache-mb 16] [--io-threads 64]
//        [--version 4.4.0] [--wire-version 9]
//
// The H2 backend keeps what it acknowledged: mongo-java-server never commits the H2 store
// after a write (H2 stores changes from a background thread about once a second), so a
// SIGKILL lost the writes of the last second that clients had been told were done. Here the
// store is committed after every command that may write, before the reply goes out
// (DurableH2Backend): the write is then in the operating system's hands and survives the
// process being killed. With --h2-fsync it is also forced to the disk (an OS crash or power
// loss). Commits are shared (group commit): a writer that finds a commit under way waits for
// the next one, which takes every write made meanwhile, so many connections writing at once
// pay for one commit; the server runs enough I/O threads (--io-threads, default 64) for many
// connections to wait at once.
//
// Unique indexes compare their keys by value (KeyOrder). The library keeps each unique index
// in an H2 map keyed by its KeyValue class, which is not Comparable, so H2 ordered the keys by
// Java-serialising both sides of every comparison: ~20 serialisations per look-up, 58% of the
// store's time while filling it, and look-ups that slowed as the maps grew. Maps written in the
// old order are copied into the new order once, when a store made before this is opened.
//
// The reported version matters: the Rust mongodb 3.x driver refuses servers whose
// maxWireVersion is below 9 (MongoDB 4.4), and the library's own ServerVersion constants
// stop at wire version 8. The library uses the version only in hello/buildInfo replies, so
// reporting 4.4 changes what the driver believes, not what the server does.
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;

import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.type.ObjectDataType;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.AbstractUniqueIndex;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.ObjectId;
import de.bwaldvogel.mongo.MongoCollection;
import io.netty.channel.Channel;

public final class Launcher {

    /** Commits (and with fsync forces) the H2 store after every command that may write, before its reply is sent. */
    static final class DurableH2Backend extends H2Backend {
        /** Commands that never write; everything else (aggregate too: $out, $merge) is followed by a commit. */
        private static final Set<String> READ_ONLY = Set.of(
            "find", "getmore", "count", "distinct", "killcursors", "listcollections", "listindexes",
            "listdatabases", "hello", "ismaster", "ping", "buildinfo", "whatsmyuri", "serverstatus",
            "dbstats", "collstats", "endsessions", "getparameter", "getlasterror", "connectionstatus");
        private final MVStore store;
        private final boolean fsync;

        DurableH2Backend(MVStore store, boolean fsync) {
            super(store);
            this.store = store;
            this.fsync = fsync;
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            // Runs inside H2Backend's constructor too (for the databases already stored), before
            // this class's fields are set: the database uses only what H2Backend has set by then.
            return new ValueOrderedDatabase(databaseName, getCursorRegistry());
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            // The store version this command reads stays readable until it ends: H2 frees a chunk
            // whose pages were moved (its background compaction) once the chunk is older than
            // the retention time and no registered reader uses a version before the move, so
            // a scan longer than the retention time would otherwise find a chunk gone.
            MVStore.TxCounter reading = getMvStore().registerVersionUsage();
            try {
                return super.handleCommand(channel, database, command, query);
            } finally {
                getMvStore().deregisterVersionUsage(reading);
                // Also after an error: a batch that failed half-way wrote its first documents.
                if (!READ_ONLY.contains(command.toLowerCase(Locale.ROOT))) {
                    persist();
                }
            }
        }

        /** Guards the group commit's counters. */
        private final Object commits = new Object();
        /** Writes that asked for a commit so far (each takes the next number after its write). */
        private long asked;
        /** Every write numbered up to this one is committed. */
        private long done;
        /** A commit is under way. */
        private boolean committing;

        /**
         * Returns once a commit that began after this caller's write has finished: this caller
         * runs it when none is under way (for every write made so far), else it waits for the
         * one under way and then the next, which one of the waiters runs.
         */
        private void persist() {
            long ticket;
            synchronized (commits) {
                ticket = ++asked;
            }
            while (true) {
                long covers;
                synchronized (commits) {
                    while (committing && done < ticket) {
                        try {
                            commits.wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IllegalStateException("interrupted while waiting for a commit", e);
                        }
                    }
                    if (done >= ticket) {
                        return;
                    }
                    committing = true;
                    covers = asked;
                }
                // Only a commit that finished covers anyone: if it fails, the next waiter tries
                // again, and this caller's command fails rather than be acknowledged.
                boolean committed = false;
                try {
                    commitStore();
                    committed = true;
                } finally {
                    synchronized (commits) {
                        committing = false;
                        if (committed) {
                            done = Math.max(done, covers);
                        }
                        commits.notifyAll();
                    }
                }
            }
        }

        private void commitStore() {
            if (store.isClosed()) {
                return; // the shutdown hook closed it
            }
            // Writes the changes (a synchronous chunk write, into the OS page cache)...
            store.commit();
            // ...and waits for any chunk the background writer had queued before this one.
            store.executeFilestoreOperation(() -> { });
            if (fsync) {
                store.sync();
            }
        }

        /** An H2 database whose unique indexes are ordered by KeyOrder. */
        final class ValueOrderedDatabase extends H2Database {
            /** Names a unique index's map; the library's own maps ("._index_") are in the old order. */
            private static final String ORDERED = "._index_by_value_";
            private static final String UNORDERED = "._index_";
            private static final String COPYING = "._index_copying_";

            ValueOrderedDatabase(String databaseName, CursorRegistry cursorRegistry) {
                super(databaseName, getMvStore(), cursorRegistry);
            }

            /**
             * The backend's store. H2Database keeps its own private, and its constructor opens the
             * stored indexes before a field of this class could be set; an inner class's link to
             * the backend is set before that.
             */
            private MVStore store() {
                return getMvStore();
            }

            @Override
            protected Index<Object> openOrCreateUniqueIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
                MVStore store = store();
                String namespace = getFullCollectionNamespace(collectionName);
                String ordered = namespace + ORDERED + indexName;
                String unordered = namespace + UNORDERED + indexName;
                if (!store.hasMap(ordered) && store.hasMap(unordered)) {
                    reorder(store, unordered, namespace + COPYING + indexName, ordered);
                }
                if (store.hasMap(unordered)) {
                    store.removeMap(unordered); // copied before a stop, not yet removed
                }
                MVMap<KeyValue, Object> map = store.openMap(ordered, new MVMap.Builder<KeyValue, Object>().keyType(new KeyOrder()));
                return new ValueOrderedIndex(map, indexName, keys, sparse);
            }

            /**
             * Copies an index written in the old order into a map in the new order under a temporary
             * name, renamed when complete: a stop half-way leaves only the old map in use, and the
             * next start copies again.
             */
            private static void reorder(MVStore store, String unordered, String copying, String ordered) {
                if (store.hasMap(copying)) {
                    store.removeMap(copying);
                }
                MVMap<Object, Object> from = store.openMap(unordered);
                MVMap<KeyValue, Object> to = store.openMap(copying, new MVMap.Builder<KeyValue, Object>().keyType(new KeyOrder()));
                for (Map.Entry<Object, Object> entry : from.entrySet()) {
                    to.put((KeyValue) entry.getKey(), entry.getValue());
                }
                store.renameMap(to, ordered);
                store.commit();
            }

            @Override
            protected void dropIndex(MongoCollection<Object> collection, String indexName) {
                super.dropIndex(collection, indexName);
                String ordered = getFullCollectionNamespace(collection.getCollectionName()) + ORDERED + indexName;
                if (store().hasMap(ordered)) {
                    store().removeMap(ordered);
                }
            }
        }
    }

    /**
     * Orders a unique index's keys by their values: element by element, a value's kind first
     * (null, double, long, int, string, ObjectId, boolean, date, UUID, anything else), then the
     * value itself. Two keys compare equal exactly when they are equal (KeyValue.equals), which
     * is what a unique index needs; any kind not listed falls back to H2's own order (its
     * serialised bytes). Keys are still written and read by H2's ObjectDataType, so the file
     * format is the same; only the order of the map differs.
     */
    static final class KeyOrder extends ObjectDataType {
        @Override
        public int compare(Object a, Object b) {
            if (!(a instanceof KeyValue left) || !(b instanceof KeyValue right)) {
                return super.compare(a, b);
            }
            int shared = Math.min(left.size(), right.size());
            for (int i = 0; i < shared; i++) {
                int order = compareValues(left.get(i), right.get(i));
                if (order != 0) {
                    return order;
                }
            }
            return Integer.compare(left.size(), right.size());
        }

        private static int compareValues(Object a, Object b) {
            int kinds = Integer.compare(kind(a), kind(b));
            if (kinds != 0) {
                return kinds;
            }
            return switch (kinds == 0 ? kind(a) : -1) {
                case 0 -> 0;
                case 1 -> Double.compare((Double) a, (Double) b);
                case 2 -> Long.compare((Long) a, (Long) b);
                case 3 -> Integer.compare((Integer) a, (Integer) b);
                case 4 -> ((String) a).compareTo((String) b);
                case 5 -> ((ObjectId) a).compareTo((ObjectId) b);
                case 6 -> Boolean.compare((Boolean) a, (Boolean) b);
                case 7 -> ((Instant) a).compareTo((Instant) b);
                case 8 -> ((UUID) a).compareTo((UUID) b);
                default -> compareNotNull(serialize(a), serialize(b));
            };
        }

        /** The kinds compared by value; exact classes, so a subclass falls back to the bytes. */
        private static int kind(Object value) {
            if (value == null || value instanceof Missing) {
                return 0;
            }
            Class<?> type = value.getClass();
            if (type == Double.class) return 1;
            if (type == Long.class) return 2;
            if (type == Integer.class) return 3;
            if (type == String.class) return 4;
            if (type == ObjectId.class) return 5;
            if (type == Boolean.class) return 6;
            if (type == Instant.class) return 7;
            if (type == UUID.class) return 8;
            return 9;
        }
    }

    /** The library's H2 unique index (whose constructor is not public) on a value-ordered map. */
    static final class ValueOrderedIndex extends AbstractUniqueIndex<Object> {
        private final MVMap<KeyValue, Object> map;

        ValueOrderedIndex(MVMap<KeyValue, Object> map, String name, List<IndexKey> keys, boolean sparse) {
            super(name, keys, sparse);
            this.map = map;
        }

        @Override
        protected Object removeDocument(KeyValue keyValue) {
            return map.remove(keyValue);
        }

        @Override
        protected boolean putKeyPosition(KeyValue keyValue, Object position) {
            return map.putIfAbsent(keyValue, Missing.ofNullable(position)) == null;
        }

        @Override
        protected Iterable<Map.Entry<KeyValue, Object>> getIterable() {
            return map.entrySet();
        }

        @Override
        protected Object getPosition(KeyValue keyValue) {
            return map.get(keyValue);
        }

        @Override
        public long getCount() {
            return map.sizeAsLong();
        }

        @Override
        public boolean isEmpty() {
            return map.isEmpty();
        }

        @Override
        public long getDataSize() {
            return getCount();
        }
    }

    private record ReportedVersion(List<Integer> versionArray, int wireVersion) implements MongoVersion {
        @Override
        public List<Integer> getVersionArray() {
            return versionArray;
        }

        @Override
        public int getWireVersion() {
            return wireVersion;
        }
    }

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = 27017;
        String backendName = "memory";
        String h2File = null;
        boolean h2Fsync = false;
        int ioThreads = 64;
        // H2 keeps chunks it no longer needs this long before it writes over them (its default
        // is 45 s): with a commit per write that let the file grow by about 70 MB for every
        // 8,000 updates, and every commit slowed as it grew (a soak at 100 purchases/s: 2 GB
        // in 10 minutes, p99 86 -> 466 ms). A second keeps it flat; a process that is killed
        // loses nothing by it, and a machine that loses power is what --h2-fsync is for.
        int h2RetentionMs = 1000;
        // H2's page cache (its default, 16 MB): pages outside it are read and deserialised again.
        int h2CacheMb = 16;
        String version = "4.4.0";
        int wireVersion = 9;

        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--host" -> { host = value; i++; }
                case "--port" -> { port = Integer.parseInt(value); i++; }
                case "--backend" -> { backendName = value; i++; }
                case "--h2-file" -> { h2File = value; i++; }
                case "--h2-fsync" -> h2Fsync = true;
                case "--io-threads" -> { ioThreads = Integer.parseInt(value); i++; }
                case "--h2-retention-ms" -> { h2RetentionMs = Integer.parseInt(value); i++; }
                case "--h2-cache-mb" -> { h2CacheMb = Integer.parseInt(value); i++; }
                case "--version" -> { version = value; i++; }
                case "--wire-version" -> { wireVersion = Integer.parseInt(value); i++; }
                default -> {
                    System.err.println("unknown argument: " + args[i]);
                    System.exit(2);
                }
            }
        }

        MongoBackend backend = switch (backendName) {
            case "memory" -> new MemoryBackend();
            case "h2" -> {
                if (h2File == null) {
                    System.err.println("--backend h2 needs --h2-file PATH");
                    System.exit(2);
                }
                // The default background writer stays (it also compacts the file).
                MVStore store = new MVStore.Builder().fileName(h2File).cacheSize(h2CacheMb).open();
                // Opening a store made before KeyOrder copies its unique indexes, for a minute or
                // more; with the short retention the background compaction freed chunks the copy
                // was still reading ("Chunk ... not found", measured on a 2.4 GB store), so the
                // short retention starts once the store is open.
                store.setRetentionTime((int) java.util.concurrent.TimeUnit.HOURS.toMillis(1));
                DurableH2Backend h2 = new DurableH2Backend(store, h2Fsync);
                store.setRetentionTime(h2RetentionMs);
                yield h2;
            }
            default -> throw new IllegalArgumentException("unknown backend: " + backendName);
        };

        List<Integer> versionArray = new ArrayList<>();
        for (String part : version.split("\\.")) {
            versionArray.add(Integer.parseInt(part));
        }
        backend.version(new ReportedVersion(List.copyOf(versionArray), wireVersion));

        MongoServer server = new MongoServer(backend);
        server.bind(new java.net.InetSocketAddress(host, port), 1, ioThreads);
        System.out.printf("mongo-java-server listening on %s:%d (backend %s, reports MongoDB %s, wire version %d)%n",
            host, port, backendName, version, wireVersion);

        // SIGTERM (infra.sh down, a test's kill) runs this: close clients and, for H2, flush the store.
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
    }
}
