//! The node that runs a user's [`Processor`] in a task.

use std::marker::PhantomData;
use std::sync::Arc;

use super::{ConnectedStore, Processor, ProcessorContext, Record, Schedule};
use crate::processor::{Context, Dyn, DynRecord, Node, NodeFactory, StreamsError};

/// Makes each task's node of processor `name`, with a processor from `supplier` and the
/// stores it was connected to.
pub(crate) fn processor_node<KIn, VIn, KOut, VOut, P, S>(
    supplier: S,
    name: String,
    stores: Vec<ConnectedStore>,
) -> NodeFactory
where
    S: Fn() -> P + Send + Sync + 'static,
    P: Processor<KIn, VIn, KOut, VOut> + 'static,
    KIn: Clone + Send + Sync + 'static,
    VIn: Clone + Send + Sync + 'static,
    KOut: Send + Sync + 'static,
    VOut: Send + Sync + 'static,
{
    let info = Arc::new(Info { name, stores });
    Arc::new(move || {
        Box::new(ProcessorNode {
            processor: supplier(),
            info: Arc::clone(&info),
            _types: PhantomData,
        }) as Box<dyn Node>
    })
}

struct Info {
    name: String,
    stores: Vec<ConnectedStore>,
}

/// The record types a processor node takes and gives.
type Types<KIn, VIn, KOut, VOut> = PhantomData<fn(KIn, VIn) -> (KOut, VOut)>;

struct ProcessorNode<P, KIn, VIn, KOut, VOut> {
    processor: P,
    info: Arc<Info>,
    _types: Types<KIn, VIn, KOut, VOut>,
}

/// A key or value taken out of its shared box: moved when this node holds the only
/// reference (a record going down one branch), else cloned.
fn owned<T: Clone + Send + Sync + 'static>(value: Dyn) -> Result<T, StreamsError> {
    match value.downcast::<T>() {
        Ok(shared) => Ok(Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone())),
        Err(_) => Err(StreamsError::Topology(format!(
            "a processor expected a {} between processors",
            std::any::type_name::<T>()
        ))),
    }
}

impl<P, KIn, VIn, KOut, VOut> ProcessorNode<P, KIn, VIn, KOut, VOut> {
    /// The processor and its context over `ctx`, changelog records at `timestamp`.
    fn parts<'a>(
        &'a mut self,
        ctx: &'a mut dyn Context,
        timestamp: i64,
    ) -> (&'a mut P, ProcessorContext<'a, KOut, VOut>) {
        let info: &Info = &self.info;
        (
            &mut self.processor,
            ProcessorContext {
                inner: ctx,
                node: &info.name,
                stores: &info.stores,
                timestamp,
                _types: PhantomData,
            },
        )
    }
}

impl<P, KIn, VIn, KOut, VOut> Node for ProcessorNode<P, KIn, VIn, KOut, VOut>
where
    P: Processor<KIn, VIn, KOut, VOut>,
    KIn: Clone + Send + Sync + 'static,
    VIn: Clone + Send + Sync + 'static,
    KOut: Send + Sync + 'static,
    VOut: Send + Sync + 'static,
{
    fn process(&mut self, record: DynRecord, ctx: &mut dyn Context) -> Result<(), StreamsError> {
        let record = Record {
            key: owned::<KIn>(record.key)?,
            value: owned::<VIn>(record.value)?,
            timestamp: record.timestamp,
            headers: Arc::try_unwrap(record.headers).unwrap_or_else(|h| (*h).clone()),
        };
        let (processor, mut pc) = self.parts(ctx, record.timestamp);
        processor.process(record, &mut pc)
    }

    fn init(&mut self, ctx: &mut dyn Context) -> Result<(), StreamsError> {
        // (what a store logs here gets timestamp 0, as in Kafka, where no record is at hand)
        let (processor, mut pc) = self.parts(ctx, 0);
        processor.init(&mut pc)
    }

    fn punctuate(
        &mut self,
        schedule: u64,
        timestamp: i64,
        ctx: &mut dyn Context,
    ) -> Result<(), StreamsError> {
        let (processor, mut pc) = self.parts(ctx, timestamp);
        processor.punctuate(Schedule(schedule), timestamp, &mut pc)
    }

    fn close(&mut self) {
        self.processor.close();
    }
}
