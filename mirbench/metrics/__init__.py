"""Metrics torchmetrics lacks: DML Recall@K (``retrieval``), triplet agreement (``triplet_accuracy``),
paired-retrieval ranks/MRR/mean rank (``paired_retrieval``), nDCG@k (``ndcg``). Import the submodules."""
