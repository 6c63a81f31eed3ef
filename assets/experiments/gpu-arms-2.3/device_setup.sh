set -e
mkdir -p /root/dfx/meta /root/dfx/site /root/dfx/data
cp -r .gpu/q0/data/. /root/dfx/data/
cp .gpu/q0/meta/*.gz /root/dfx/meta/ && gunzip -f /root/dfx/meta/*.gz
python3 -m pip install -q --no-index --no-deps --target /root/dfx/site .gpu/q0/whl/*.whl
cp -r .gpu/q0/plotly /root/dfx/site/
export PYTHONPATH=$PWD:/root/dfx/site
python3 -c "import detector.training.reframed, torch, timm; print(torch.__version__, timm.__version__, torch.cuda.get_device_name())"
echo "pictures: $(find /root/dfx/data -type f | wc -l)"; nproc; free -g | head -2
