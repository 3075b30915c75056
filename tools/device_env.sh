# Sourced on the GPU machine: the unpacked bundle's libraries (tools/device_bundle.sh) plus the
# machine's CUDA 13 runtime/cuBLASLt and the cuDNN 9 that ships as PyTorch's nvidia-cudnn wheel.
cudnn_dir=$(python3 -c "import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))" 2>/dev/null)
cublas_dir=$(python3 -c "import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__))" 2>/dev/null)
export LD_LIBRARY_PATH=/tmp/d/lib:${cudnn_dir:+$cudnn_dir/lib:}/usr/local/cuda/lib64:${cublas_dir:+$cublas_dir/lib:}${LD_LIBRARY_PATH:-}
