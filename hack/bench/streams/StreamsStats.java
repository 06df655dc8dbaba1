// StreamsStats is the Kafka Streams peer of the stats consumer, for the
// bench (hack/bench/streams.go compiles and runs it): what a user would pick
// instead of writing a consumer. Exactly once (exactly_once_v2), one stream
// thread, every other setting Kafka's default but what one broker needs.
//
// Per record it decodes the Report (key = station id) and updates the
// station's {count, sum, start, end} in a persistent key-value store of its
// partition's task: RocksDB, backed by a changelog topic, with the record
// cache the DSL's aggregate() would have. The Processor API, not the DSL,
// because the stats are per partition and a processor knows its record's.
//
// Records that are not valid reports are skipped and counted, by the rules
// the stats consumer applies (services/common/codec and consumer/internal/stats):
// a key, a Report proto3 accepts, station_id equal to the key, a calendar
// date YYYY-MM-DD, finite degrees, a station other than "offset" or "log",
// a sum that stays finite.
//
// Usage:
//
//	java -cp <classes>:<kafka libs>/* StreamsStats --bootstrap HOST:PORT --topic T \
//	    --app-id ID --state-dir DIR --total N
//
// Once N valid reports are processed it asks for a commit and waits until
// the group's committed (stable) offsets cover every record processed: with
// exactly once, those offsets commit in the transaction that holds the
// store's changelog writes, so then the stats of all N are committed. It
// then reads the stores (interactive queries, one per partition), closes
// Streams and prints, one JSON object a line:
//
//	{"first_ms": 1700000000000, "last_ms": 1700000005000, "committed_ms": 1700000005100, "processed": N, "skipped": K}
//	{"partition": 0, "station": "StationB", "count": 2170, "sum": 66248.3, "start": "2000-04-12", "end": "2006-03-21"}
//	...
//
// first_ms: the first record processed; last_ms: the N-th valid one;
// committed_ms: when the commit after it was seen. Logs go to stderr (run it
// with hack/kafka/log4j2.properties, as kafka.sh's `tool` mode does). Exit 0
// on success, 1 with a message on stderr on error, 2 on bad usage.

import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TaskMetadata;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;

public final class StreamsStats {
    static final String STORE = "stats";

    /** What one partition has seen of one station. */
    static final class Agg {
        long count;
        double sum; // of degrees, added in offset order
        String start; // date of the first report, in offset order
        String end; // date of the last report, in offset order
    }

    /** Agg in 36 bytes: count, sum, start, end (dates are 10 ASCII bytes). */
    static byte[] serializeAgg(String topic, Agg a) {
        if (a == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(36);
        b.putLong(a.count).putDouble(a.sum);
        b.put(a.start.getBytes(StandardCharsets.US_ASCII)).put(a.end.getBytes(StandardCharsets.US_ASCII));
        return b.array();
    }

    static Agg deserializeAgg(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(data);
        Agg a = new Agg();
        a.count = b.getLong();
        a.sum = b.getDouble();
        a.start = new String(data, 16, 10, StandardCharsets.US_ASCII);
        a.end = new String(data, 26, 10, StandardCharsets.US_ASCII);
        return a;
    }

    /** A Report's fields, as Report.parseFrom would give them. */
    static final class Report {
        String date = "";
        double degrees;
        String stationId = "";
    }

    static final int DATE_TAG = 1 << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    static final int DEGREES_TAG = 2 << 3 | WireFormat.WIRETYPE_FIXED64;
    static final int STATION_TAG = 3 << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;

    /**
     * Parses value as a weather.v1.Report, the loop protoc's Java code runs
     * in Report.parseFrom (proto3: strings must be UTF-8; unknown fields are
     * skipped; a repeated field's last value wins).
     */
    static Report parseReport(byte[] value) throws IOException {
        Report r = new Report();
        CodedInputStream in = CodedInputStream.newInstance(value);
        while (true) {
            int tag = in.readTag();
            if (tag == 0) {
                return r;
            }
            if (tag == DATE_TAG) {
                r.date = in.readStringRequireUtf8();
            } else if (tag == DEGREES_TAG) {
                r.degrees = in.readDouble();
            } else if (tag == STATION_TAG) {
                r.stationId = in.readStringRequireUtf8();
            } else if (!in.skipField(tag)) { // an end-group tag outside a group
                throw new InvalidProtocolBufferException("end-group tag outside a group");
            }
        }
    }

    /** Reports whether s is a calendar date YYYY-MM-DD (time.DateOnly). */
    static boolean validDate(String s) {
        if (s.length() != 10 || s.charAt(4) != '-' || s.charAt(7) != '-') {
            return false;
        }
        int n = 0;
        for (int i = 0; i < 10; i++) {
            if (i == 4 || i == 7) {
                continue;
            }
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
            n = n * 10 + (c - '0');
        }
        int year = n / 10000, month = n / 100 % 100, day = n % 100;
        if (month < 1 || month > 12 || day < 1) {
            return false;
        }
        switch (month) {
            case 4: case 6: case 9: case 11:
                return day <= 30;
            case 2:
                boolean leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
                return day <= (leap ? 29 : 28);
            default:
                return day <= 31;
        }
    }

    // Shared by the processors (one per task, all on the one stream thread)
    // and read by the main thread.
    final long total;
    final AtomicLong processed = new AtomicLong();
    final AtomicLong skipped = new AtomicLong();
    final AtomicLong firstMs = new AtomicLong();
    volatile long lastMs;
    /** The last offset processed, per partition: valid reports or not. */
    final Map<Integer, AtomicLong> lastOffsets = new ConcurrentHashMap<>();
    /** lastOffsets when the N-th valid report was processed. */
    volatile Map<Integer, Long> offsetsAtTotal;
    final CountDownLatch reachedTotal = new CountDownLatch(1);
    final AtomicReference<Throwable> failure = new AtomicReference<>();

    StreamsStats(long total) {
        this.total = total;
    }

    /** Updates the station's Agg in the store of its record's partition. */
    final class StatsProcessor implements Processor<byte[], byte[], Void, Void> {
        private ProcessorContext<Void, Void> context;
        private KeyValueStore<String, Agg> store;
        private int partition = -1;
        private AtomicLong lastOffset;

        @Override
        public void init(ProcessorContext<Void, Void> context) {
            this.context = context;
            this.store = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<byte[], byte[]> record) {
            RecordMetadata meta = context.recordMetadata().orElseThrow();
            if (meta.partition() != partition) {
                partition = meta.partition();
                lastOffset = lastOffsets.computeIfAbsent(partition, p -> new AtomicLong(-1));
            }
            firstMs.compareAndSet(0, System.currentTimeMillis());
            boolean ok = add(record.key(), record.value());
            lastOffset.set(meta.offset());
            if (!ok) {
                skipped.incrementAndGet();
                return;
            }
            if (processed.incrementAndGet() == total) {
                lastMs = System.currentTimeMillis();
                Map<Integer, Long> at = new HashMap<>();
                lastOffsets.forEach((p, o) -> at.put(p, o.get()));
                offsetsAtTotal = at;
                context.commit(); // a request: Streams commits after this call returns
                reachedTotal.countDown();
            }
        }

        /** Adds the report in key, value to its station; false: not a valid report. */
        private boolean add(byte[] key, byte[] value) {
            if (key == null || key.length == 0 || value == null) {
                return false;
            }
            Report r;
            try {
                r = parseReport(value);
            } catch (IOException e) {
                return false;
            }
            if (!Arrays.equals(key, r.stationId.getBytes(StandardCharsets.UTF_8))
                    || !validDate(r.date) || !Double.isFinite(r.degrees)
                    || r.stationId.equals("offset") || r.stationId.equals("log")) {
                return false;
            }
            Agg a = store.get(r.stationId);
            if (a == null) {
                a = new Agg();
                a.start = r.date;
            }
            double sum = a.sum + r.degrees;
            if (!Double.isFinite(sum)) {
                return false;
            }
            a.count++;
            a.sum = sum;
            a.end = r.date;
            store.put(r.stationId, a);
            return true;
        }
    }

    public static void main(String[] args) {
        Map<String, String> opts = new HashMap<>();
        List<String> want = List.of("--bootstrap", "--topic", "--app-id", "--state-dir", "--total");
        for (int i = 0; i < args.length; i++) {
            if (!want.contains(args[i]) || i + 1 == args.length) {
                usage("unknown or incomplete flag " + args[i]);
            }
            opts.put(args[i], args[++i]);
        }
        for (String w : want) {
            if (!opts.containsKey(w)) {
                usage("missing " + w);
            }
        }
        long total = 0;
        try {
            total = Long.parseLong(opts.get("--total"));
        } catch (NumberFormatException e) {
            usage("--total " + opts.get("--total") + " is not a number");
        }
        if (total <= 0) {
            usage("--total must be positive");
        }
        try {
            new StreamsStats(total).run(opts.get("--bootstrap"), opts.get("--topic"), opts.get("--app-id"), opts.get("--state-dir"));
        } catch (Throwable e) {
            System.err.println("StreamsStats: error: " + e);
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                System.err.println("StreamsStats:   caused by: " + c);
            }
            System.exit(1);
        }
        System.exit(0);
    }

    static void usage(String why) {
        System.err.println("StreamsStats: " + why);
        System.err.println("usage: StreamsStats --bootstrap HOST:PORT --topic T --app-id ID --state-dir DIR --total N");
        System.exit(2);
    }

    void run(String bootstrap, String topic, String appId, String stateDir) throws Exception {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1); // one broker

        Serde<Agg> aggSerde = Serdes.serdeFrom((Serializer<Agg>) StreamsStats::serializeAgg, (Deserializer<Agg>) StreamsStats::deserializeAgg);
        StreamsBuilder builder = new StreamsBuilder();
        // Persistent (RocksDB) and logged (a changelog topic) are a store's
        // defaults; the cache is the DSL's default for an aggregation.
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(), aggSerde)
                .withCachingEnabled());
        builder.stream(topic, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .process(StatsProcessor::new, STORE);

        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        streams.setUncaughtExceptionHandler(e -> {
            failure.compareAndSet(null, e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.ERROR) {
                failure.compareAndSet(null, new IllegalStateException("Kafka Streams went from " + before + " to ERROR"));
            }
        });
        AtomicLong closed = new AtomicLong();
        Thread hook = new Thread(() -> { // SIGTERM: close cleanly
            if (closed.compareAndSet(0, 1)) {
                streams.close(Duration.ofSeconds(30));
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);

        Map<String, Object> adminProps = Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(adminProps)) {
            streams.start();
            while (!reachedTotal.await(100, TimeUnit.MILLISECONDS)) {
                checkAlive(streams, "before " + total + " valid reports were processed (" + processed.get() + " so far)");
            }
            long committedMs = awaitCommit(streams, admin, appId, topic);
            TreeMap<Integer, TreeMap<String, Agg>> stats = readStores(streams);
            long n = processed.get();
            if (n != total) {
                throw new IllegalStateException("processed " + n + " valid reports, more than --total " + total
                        + ": the topic holds more");
            }
            Runtime.getRuntime().removeShutdownHook(hook);
            closed.set(1);
            if (!streams.close(Duration.ofSeconds(60))) {
                throw new IllegalStateException("Kafka Streams did not close within 60 s");
            }
            print(System.out, committedMs, stats);
        }
    }

    void checkAlive(KafkaStreams streams, String when) {
        Throwable e = failure.get();
        if (e != null) {
            throw new IllegalStateException("Kafka Streams failed " + when, e);
        }
        KafkaStreams.State s = streams.state();
        if (s == KafkaStreams.State.ERROR || s == KafkaStreams.State.PENDING_SHUTDOWN || s == KafkaStreams.State.NOT_RUNNING
                || s == KafkaStreams.State.PENDING_ERROR) {
            throw new IllegalStateException("Kafka Streams is " + s + " " + when);
        }
    }

    /**
     * Waits until the group's stable committed offsets are past every record
     * processed up to the N-th valid report, and returns when that was seen.
     */
    long awaitCommit(KafkaStreams streams, Admin admin, String appId, String topic) throws Exception {
        Map<Integer, Long> want = offsetsAtTotal;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        ListConsumerGroupOffsetsOptions stable = new ListConsumerGroupOffsetsOptions().requireStable(true);
        while (true) {
            checkAlive(streams, "waiting for the commit after the last report");
            Map<TopicPartition, OffsetAndMetadata> got =
                    admin.listConsumerGroupOffsets(appId, stable).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            boolean done = true;
            for (Map.Entry<Integer, Long> w : want.entrySet()) {
                OffsetAndMetadata o = got.get(new TopicPartition(topic, w.getKey()));
                if (o == null || o.offset() <= w.getValue()) {
                    done = false;
                    break;
                }
            }
            if (done) {
                return System.currentTimeMillis();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no commit past offsets " + want + " within 60 s; committed: " + got);
            }
            Thread.sleep(10);
        }
    }

    /** Every station of every local task's store, by partition and name. */
    TreeMap<Integer, TreeMap<String, Agg>> readStores(KafkaStreams streams) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                List<Integer> parts = new ArrayList<>();
                for (ThreadMetadata t : streams.metadataForLocalThreads()) {
                    for (TaskMetadata task : t.activeTasks()) {
                        for (TopicPartition tp : task.topicPartitions()) {
                            parts.add(tp.partition());
                        }
                    }
                }
                Collections.sort(parts);
                TreeMap<Integer, TreeMap<String, Agg>> out = new TreeMap<>();
                for (int p : parts) {
                    ReadOnlyKeyValueStore<String, Agg> store = streams.store(
                            StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.<String, Agg>keyValueStore()).withPartition(p));
                    TreeMap<String, Agg> m = new TreeMap<>();
                    try (KeyValueIterator<String, Agg> it = store.all()) {
                        while (it.hasNext()) {
                            KeyValue<String, Agg> kv = it.next();
                            m.put(kv.key, kv.value);
                        }
                    }
                    out.put(p, m);
                }
                return out;
            } catch (InvalidStateStoreException e) { // e.g. rebalancing: try again
                checkAlive(streams, "reading the stores");
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    void print(PrintStream out, long committedMs, TreeMap<Integer, TreeMap<String, Agg>> stats) {
        StringBuilder b = new StringBuilder();
        b.append("{\"first_ms\": ").append(firstMs.get()).append(", \"last_ms\": ").append(lastMs)
                .append(", \"committed_ms\": ").append(committedMs)
                .append(", \"processed\": ").append(processed.get()).append(", \"skipped\": ").append(skipped.get()).append("}\n");
        stats.forEach((p, stations) -> stations.forEach((name, a) -> {
            b.append("{\"partition\": ").append(p).append(", \"station\": ");
            quote(b, name);
            b.append(", \"count\": ").append(a.count).append(", \"sum\": ").append(exact(a.sum));
            b.append(", \"start\": \"").append(a.start).append("\", \"end\": \"").append(a.end).append("\"}\n");
        }));
        out.print(b);
        out.flush();
        if (out.checkError()) {
            throw new IllegalStateException("writing the results to stdout failed");
        }
    }

    /** d as a JSON number that reads back as d exactly. */
    static String exact(double d) {
        String s = Double.toString(d);
        // Double.toString round-trips; should a JDK's not, the exact decimal does.
        return Double.parseDouble(s) == d ? s : new BigDecimal(d).toString();
    }

    static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || c >= 0x7f) { // ASCII out, whatever the JVM's stdout encoding
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        b.append('"');
    }
}
